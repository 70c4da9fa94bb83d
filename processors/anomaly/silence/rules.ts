import type { Anomaly } from '../../../core/anomaly.js';
import { regionAnomaly } from '../region/anomaly.js';
import type { RegionFacts } from '../region/partials.js';
import type { SilenceConfig } from './config.js';

/** Decisions of the silence processor, shared by the detector and the region aggregator. */

/** Whether a device whose newest reading is at `last`, with update cycle `cycle`, is silent at `watermark`. */
export function isQuiet(cfg: Pick<SilenceConfig, 'factor' | 'minSilenceMs'>, last: number, cycle: number, watermark: number): boolean {
  return watermark - last > Math.max(cfg.minSilenceMs, cfg.factor * cycle);
}

/** Whether `silent` of a region's `total` known devices are an outage. */
export function regionDown(cfg: Pick<SilenceConfig, 'regionRatio' | 'regionMinDevices'>, silent: number, total: number): boolean {
  return total >= cfg.regionMinDevices && silent / total >= cfg.regionRatio;
}

/**
 * Steps the once-per-outage latch of region `key` (`down` holds the regions in outage): true
 * when an outage begins now (the anomaly is due). A region leaves the outage (re-arms) when
 * fewer than half the outage ratio are silent.
 */
export function stepOutage(cfg: Pick<SilenceConfig, 'regionRatio' | 'regionMinDevices'>, down: Set<string>, key: string, silent: number, total: number): boolean {
  const isDown = regionDown(cfg, silent, total);
  if (isDown && !down.has(key)) {
    down.add(key);
    return true;
  }
  if (!isDown && silent / total < cfg.regionRatio / 2) down.delete(key);
  return false;
}

/** The `silence.region` anomaly: `silent` of `total` devices of a region silent at `eventMs`. */
export function regionOutageAnomaly(f: RegionFacts, silent: number, total: number, eventMs: number): Anomaly {
  const detail = `${silent} of ${total} ${f.sector} devices in ${f.region} are silent: possible outage`;
  return regionAnomaly(f, { detector: 'silence', kind: 'region', category: 'device-fault', eventMs, value: silent, detail });
}
