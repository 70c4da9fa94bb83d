import type { Anomaly } from '../../../core/anomaly.js';
import { regionAnomaly } from '../region/anomaly.js';
import type { RegionFacts } from '../region/partials.js';
import type { FloodConfig } from './config.js';

/** Decisions of the flood processor, shared by the detector and the region aggregator. */

/** A region is judged only once this many device/type pairs were seen there. */
export const MIN_REGION_PAIRS = 3;

/** Whether `n` messages in a window, `expected` by the update cycles, are a flood. */
export function floods(cfg: Pick<FloodConfig, 'factor' | 'slack'>, n: number, expected: number): boolean {
  return n > cfg.factor * expected + cfg.slack;
}

/** Whether a region's window count is a region flood. */
export function regionFloods(cfg: Pick<FloodConfig, 'factor' | 'slack'>, n: number, expected: number, pairs: number): boolean {
  return pairs >= MIN_REGION_PAIRS && floods(cfg, n, expected);
}

/** The `flood.region` anomaly: `n` messages in one window where `expected` were. */
export function regionFloodAnomaly(cfg: Pick<FloodConfig, 'windowMs'>, f: RegionFacts, n: number, expected: number, eventMs: number): Anomaly {
  const detail = `${f.sector} region ${f.region}: more than ${n - 1} messages in ${cfg.windowMs / 1000} s (expected ${expected.toFixed(0)})`;
  return regionAnomaly(f, { detector: 'flood', kind: 'region', category: 'network-attack', eventMs, value: n, detail });
}
