import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { anomalyOf, ExpiringState, isNum, num, obj, perDevice, rec } from '../state.js';
import type { RateConfig } from './config.js';

/**
 * Rate of change: consecutive readings (in event time) of a field differ by more than physics
 * allows in the time between them. Out-of-order readings are skipped: their neighbour is unknown.
 */
export function rateDetector(cfg: RateConfig): Detector {
  const last = new ExpiringState<{ t: number; v: Record<string, number> }>();
  return {
    name: 'rate',
    reading(i: DetectInput, emit: Emit) {
      const limits = cfg.limits[i.entry.measurement];
      if (!limits || i.outOfOrder) return;
            const s = last.get(i.key, i.reading.eventMs, () => ({ t: i.reading.eventMs, v: {} }));
      const dt = Math.max(0, (i.reading.eventMs - s.t) / 1000);
      for (const [field, [abs, perSec]] of Object.entries(limits)) {
        const v = num(i, field);
        if (v === undefined) continue;
        const prev = s.v[field];
        s.v[field] = v;
        if (prev === undefined) continue;
        const allowed = abs + perSec * dt;
        if (Math.abs(v - prev) > allowed) {
          emit(anomalyOf(i, { detector: 'rate', kind: 'too_fast', category: 'device-fault', field, value: v, detail: `${field} changed ${prev} -> ${v} in ${dt.toFixed(0)} s (at most ${allowed.toFixed(2)} possible)` }));
        }
      }
      s.t = i.reading.eventMs;
    },
    expire: (before) => last.expire(before),
    size: () => last.size,
    ...perDevice(last, obj({ t: isNum, v: rec(isNum) })),
  };
}
