import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { mergeFacts, type FloodPartial, type RegionFacts, type RegionPartialSource } from '../region/partials.js';
import { RegionWindows } from '../region/windows.js';
import { RowsByMeasurement } from '../rows.js';
import { anomalyOf, ExpiringState, isBool, isNum, obj } from '../state.js';
import type { FloodConfig } from './config.js';
import { floods, MIN_REGION_PAIRS, regionFloodAnomaly } from './rules.js';

interface Counter {
  window: number;
  n: number;
  fired: boolean;
  expected: number;
}

const counter = obj<Counter>({ window: isNum, n: isNum, fired: isBool, expected: isNum });

/**
 * Flood: counts readings per device and message type, and per sector-region, in event-time
 * windows; more than `factor` x the count the catalogue's update cycle implies (plus `slack`)
 * is a flood. Fires once per window and key. With `regionPartials` it only counts regions (all
 * their readings, per window), for `regionPartials()` and a RegionAggregator to judge over all
 * workers.
 */
export function floodDetector(cfg: FloodConfig, regionPartials = false): Detector & RegionPartialSource {
  // A device's counter is a row per measurement (rows.ts): window, count, fired (1/0), expected,
  // and the number of the region it is counted in (-1: not yet).
  const devices = new RowsByMeasurement(() => 5, (n) => new Float64Array(n));
  const regions = new ExpiringState<Counter & { pairs: number; facts?: RegionFacts; windows?: RegionWindows }>();
  // Region keys numbered once, so a counter can name its region and no key is built per reading.
  const regionKeys: string[] = [];
  const regionNumbers = new Map<string, number>();
  const regionNumber = (d: { sector: string; region: string }) => {
    const key = `${d.sector}/${d.region}`;
    let k = regionNumbers.get(key);
    if (k === undefined) regionNumbers.set(key, (k = regionKeys.push(key) - 1));
    return k;
  };
  const count = (c: Counter, window: number) => {
    if (c.window !== window) Object.assign(c, { window, n: 0, fired: false });
    c.n++;
  };
  const over = (c: Counter, window: number) => {
    count(c, window);
    if (c.fired || !floods(cfg, c.n, c.expected)) return false;
    return (c.fired = true);
  };
  // A counter that goes (expired, or replaced by a restore) takes its pair off its region.
  const uncount = (_slot: number, c: Float64Array, o: number) => {
    const g = c[o + 4] >= 0 ? regions.peek(regionKeys[c[o + 4]]) : undefined;
    if (!g) return;
    g.pairs = Math.max(0, g.pairs - 1);
    g.expected = Math.max(0, g.expected - c[o + 3]);
  };
  return {
    name: 'flood',
    reading(i: DetectInput, emit: Emit) {
      const r = i.reading;
      const window = Math.floor(r.eventMs / cfg.windowMs);
      const perWindow = cfg.windowMs / i.entry.updateCycleMs;
      const table = devices.of(i.entry.measurement)!;
      const row = table.row(i.slot, r.eventMs, (c, o) => {
        c[o] = window;
        c[o + 3] = perWindow;
        c[o + 4] = -1;
      });
      const c = table.chunk(row);
      const o = table.offset(row);
      if (c[o] !== window) {
        c[o] = window;
        c[o + 1] = 0;
        c[o + 2] = 0;
      }
      const n = ++c[o + 1];
      if (c[o + 2] === 0 && floods(cfg, n, c[o + 3])) {
        c[o + 2] = 1;
        emit(anomalyOf(i, { detector: 'flood', kind: 'device', category: 'network-attack', value: n, detail: `more than ${n - 1} ${i.entry.messageType} messages in ${cfg.windowMs / 1000} s (expected ${perWindow.toFixed(1)})` }));
      }
      // The region's expected rate is the sum over the device/type pairs counted there (a pair
      // is added with its counter's first reading and taken off when the counter expires or is
      // restored). The counter keeps its region's number: a device moved to another region by a
      // reload is counted in its old one until its counter expires.
      const paired = c[o + 4] >= 0;
      const k = paired ? c[o + 4] : regionNumber(i.device);
      const g = regions.get(regionKeys[k], r.eventMs, () => ({ window, n: 0, fired: false, expected: 0, pairs: 0 }));
      if (!paired) {
        c[o + 4] = k;
        g.pairs++;
        g.expected += c[o + 3];
      }
      const facts = (): RegionFacts => ({ sector: i.device.sector, region: i.device.region, code: i.entry.code, grade: i.entry.grade, criticalInfrastructure: i.device.criticalInfrastructure });
      if (regionPartials) {
        // Per window, not only the newest: several windows may pass between two reports (a fast replay).
        (g.windows ??= new RegionWindows()).count(window, r.eventMs);
        g.facts = mergeFacts(g.facts, facts());
      } else if (g.pairs >= MIN_REGION_PAIRS && over(g, window)) {
        emit(regionFloodAnomaly(cfg, facts(), g.n, g.expected, r.eventMs));
      }
    },
    expire(before) {
      devices.expire(before, uncount);
      regions.expire(before);
    },
    size: () => devices.size,
    // Device counters only: region counts are not a device's (they sum over workers instead).
    // A restored counter is counted in its region with its next reading here.
    snapshot: (_device, slot) => devices.snapshot(slot, ([window, n, fired, expected]) => ({ window, n, fired: fired === 1, expected })),
    restore: (_device, snap, slot) =>
      devices.restore(
        slot,
        snap,
        (j, k) => {
          const c = counter(j, k);
          return c && [c.window, c.n, c.fired ? 1 : 0, c.expected, -1];
        },
        uncount,
      ),
    regionPartials(watermark: number): FloodPartial[] {
      const out: FloodPartial[] = [];
      for (const [, g] of regions.entries()) {
        if (!g.facts || !g.windows) continue;
        for (const [window, c] of g.windows.take()) out.push({ detector: 'flood', ...g.facts, watermark, window, n: c.n, expected: g.expected, pairs: g.pairs, eventMs: c.eventMs });
      }
      return out;
    },
  };
}
