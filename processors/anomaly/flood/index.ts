import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { anomalyOf, ExpiringState } from '../state.js';
import type { FloodConfig } from './config.js';

interface Counter {
  window: number;
  n: number;
  fired: boolean;
  expected: number;
}

/**
 * Flood: counts readings per device and message type, and per sector-region, in event-time
 * windows; more than `factor` x the count the catalogue's update cycle implies (plus `slack`)
 * is a flood. Fires once per window and key.
 */
export function floodDetector(cfg: FloodConfig): Detector {
  const devices = new ExpiringState<Counter>();
  const regions = new ExpiringState<Counter & { devices: Set<string> }>();
  const over = (c: Counter, window: number) => {
    if (c.window !== window) Object.assign(c, { window, n: 0, fired: false });
    c.n++;
    if (c.fired || c.n <= cfg.factor * c.expected + cfg.slack) return false;
    return (c.fired = true);
  };
  return {
    name: 'flood',
    reading(i: DetectInput, emit: Emit) {
      const r = i.reading;
      const window = Math.floor(r.eventMs / cfg.windowMs);
      const perWindow = cfg.windowMs / i.entry.updateCycleMs;
      const d = devices.get(`${r.device}|${i.entry.measurement}`, r.eventMs, () => ({ window, n: 0, fired: false, expected: perWindow }));
      if (over(d, window)) {
        emit(anomalyOf(i, { detector: 'flood', kind: 'device', category: 'network-attack', value: d.n, detail: `more than ${d.n - 1} ${i.entry.messageType} messages in ${cfg.windowMs / 1000} s (expected ${perWindow.toFixed(1)})` }));
      }
      const g = regions.get(`${i.device.sector}/${i.device.region}`, r.eventMs, () => ({ window, n: 0, fired: false, expected: 0, devices: new Set<string>() }));
      // The region's expected rate is the sum over the device/type pairs seen there.
      const pair = `${r.device}|${i.entry.measurement}`;
      if (!g.devices.has(pair)) {
        g.devices.add(pair);
        g.expected += perWindow;
      }
      if (g.devices.size >= 3 && over(g, window)) {
        emit(anomalyOf(i, { detector: 'flood', kind: 'region', category: 'network-attack', device: undefined, regionWide: true, value: g.n, detail: `${i.device.sector} region ${i.device.region}: more than ${g.n - 1} messages in ${cfg.windowMs / 1000} s (expected ${g.expected.toFixed(0)})` }));
      }
    },
    expire(before) {
      devices.expire(before);
      regions.expire(before);
    },
    size: () => devices.size,
  };
}
