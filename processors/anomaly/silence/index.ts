import { higherGrade, type Grade } from '../../../config/catalogue.js';
import type { Anomaly, Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { ExpiringState } from '../state.js';
import type { SilenceConfig } from './config.js';

interface DeviceClock {
  last: number;
  cycle: number;
  sector: string;
  region: string;
  code: string;
  grade: Grade;
  critical: boolean;
  silent: boolean;
}

/**
 * Silence (deadman), in event time: a device whose newest reading is more than `factor` x its
 * update cycle behind the watermark is silent (once per silence; it clears when the device
 * speaks). When `regionRatio` of a sector-region's known devices are silent together, the
 * region is (possible outage: power, network or an attack on the gateway).
 */
export function silenceDetector(cfg: SilenceConfig): Detector {
  const devices = new ExpiringState<DeviceClock>();
  const regionsDown = new Set<string>();
  return {
    name: 'silence',
    reading(i: DetectInput) {
      const r = i.reading;
      const d = devices.get(r.device, r.eventMs, () => ({ last: r.eventMs, cycle: i.entry.updateCycleMs, sector: i.device.sector, region: i.device.region, code: i.entry.code, grade: i.entry.grade, critical: i.device.criticalInfrastructure, silent: false }));
      d.last = Math.max(d.last, r.eventMs);
      d.cycle = Math.min(d.cycle, i.entry.updateCycleMs);
      d.grade = higherGrade(d.grade, i.entry.grade);
      d.silent = false;
    },
    tick(watermark: number, emit: Emit) {
      const regions = new Map<string, { total: number; silent: number; code: string; grade: Grade; critical: boolean; sector: string; region: string }>();
      for (const [id, { s: d }] of devices.entries()) {
        const limit = Math.max(cfg.minSilenceMs, cfg.factor * d.cycle);
        const quiet = watermark - d.last > limit;
        if (quiet && !d.silent) {
          d.silent = true;
          emit({ detector: 'silence', kind: 'device', category: 'device-fault', baseLevel: 4, sector: d.sector, region: d.region, device: id, code: d.code, grade: d.grade, criticalInfrastructure: d.critical, eventMs: watermark, detail: `no reading for ${Math.round((watermark - d.last) / 1000)} s (update cycle ${d.cycle / 1000} s)` });
        }
        const key = `${d.sector}/${d.region}`;
        let g = regions.get(key);
        if (!g) regions.set(key, (g = { total: 0, silent: 0, code: d.code, grade: d.grade, critical: false, sector: d.sector, region: d.region }));
        g.total++;
        if (d.silent) g.silent++;
        g.critical ||= d.critical;
        g.grade = higherGrade(g.grade, d.grade);
      }
      for (const [key, g] of regions) {
        const down = g.total >= cfg.regionMinDevices && g.silent / g.total >= cfg.regionRatio;
        if (down && !regionsDown.has(key)) {
          regionsDown.add(key);
          const a: Anomaly = { detector: 'silence', kind: 'region', category: 'device-fault', baseLevel: 4, sector: g.sector, region: g.region, code: g.code, grade: g.grade, criticalInfrastructure: g.critical, regionWide: true, eventMs: watermark, value: g.silent, detail: `${g.silent} of ${g.total} ${g.sector} devices in ${g.region} are silent: possible outage` };
          emit(a);
        } else if (!down && g.silent / g.total < cfg.regionRatio / 2) regionsDown.delete(key);
      }
    },
    expire: (before) => devices.expire(before),
    size: () => devices.size,
  };
}
