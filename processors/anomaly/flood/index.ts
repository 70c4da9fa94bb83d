import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { mergeFacts, type FloodPartial, type RegionFacts, type RegionPartialSource } from '../region/partials.js';
import { RegionWindows } from '../region/windows.js';
import { anomalyOf, ExpiringState, isBool, isNum, obj, perDevice } from '../state.js';
import type { FloodConfig } from './config.js';
import { floods, MIN_REGION_PAIRS, regionFloodAnomaly } from './rules.js';

interface Counter {
  window: number;
  n: number;
  fired: boolean;
  expected: number;
}

/**
 * Flood: counts readings per device and message type, and per sector-region, in event-time
 * windows; more than `factor` x the count the catalogue's update cycle implies (plus `slack`)
 * is a flood. Fires once per window and key. With `regionPartials` it only counts regions (all
 * their readings, per window), for `regionPartials()` and a RegionAggregator to judge over all
 * workers.
 */
export function floodDetector(cfg: FloodConfig, regionPartials = false): Detector & RegionPartialSource {
  const devices = new ExpiringState<Counter>();
  const regions = new ExpiringState<Counter & { devices: Set<string>; facts?: RegionFacts; windows?: RegionWindows }>();
  const count = (c: Counter, window: number) => {
    if (c.window !== window) Object.assign(c, { window, n: 0, fired: false });
    c.n++;
  };
  const over = (c: Counter, window: number) => {
    count(c, window);
    if (c.fired || !floods(cfg, c.n, c.expected)) return false;
    return (c.fired = true);
  };
  return {
    name: 'flood',
    reading(i: DetectInput, emit: Emit) {
      const r = i.reading;
      const window = Math.floor(r.eventMs / cfg.windowMs);
      const perWindow = cfg.windowMs / i.entry.updateCycleMs;
      const d = devices.get(i.key, r.eventMs, () => ({ window, n: 0, fired: false, expected: perWindow }));
      if (over(d, window)) {
        emit(anomalyOf(i, { detector: 'flood', kind: 'device', category: 'network-attack', value: d.n, detail: `more than ${d.n - 1} ${i.entry.messageType} messages in ${cfg.windowMs / 1000} s (expected ${perWindow.toFixed(1)})` }));
      }
      const g = regions.get(`${i.device.sector}/${i.device.region}`, r.eventMs, () => ({ window, n: 0, fired: false, expected: 0, devices: new Set<string>() }));
      // The region's expected rate is the sum over the device/type pairs seen there.
      const pair = i.key;
      if (!g.devices.has(pair)) {
        g.devices.add(pair);
        g.expected += perWindow;
      }
      const facts: RegionFacts = { sector: i.device.sector, region: i.device.region, code: i.entry.code, grade: i.entry.grade, criticalInfrastructure: i.device.criticalInfrastructure };
      if (regionPartials) {
        // Per window, not only the newest: several windows may pass between two reports (a fast replay).
        (g.windows ??= new RegionWindows()).count(window, r.eventMs);
        g.facts = mergeFacts(g.facts, facts);
      } else if (g.devices.size >= MIN_REGION_PAIRS && over(g, window)) {
        emit(regionFloodAnomaly(cfg, facts, g.n, g.expected, r.eventMs));
      }
    },
    expire(before) {
      devices.expire(before);
      regions.expire(before);
    },
    size: () => devices.size,
    // Device counters only: region counts are not a device's (they sum over workers instead).
    ...perDevice(devices, obj<Counter>({ window: isNum, n: isNum, fired: isBool, expected: isNum })),
    regionPartials(watermark: number): FloodPartial[] {
      const out: FloodPartial[] = [];
      for (const [, g] of regions.entries()) {
        if (!g.facts || !g.windows) continue;
        for (const [window, c] of g.windows.take()) out.push({ detector: 'flood', ...g.facts, watermark, window, n: c.n, expected: g.expected, pairs: g.devices.size, eventMs: c.eventMs });
      }
      return out;
    },
  };
}
