import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { anomalyOf, ExpiringState, isBool, isNum, num, obj, perDevice, rec } from '../state.js';
import type { FlatlineConfig } from './config.js';

interface Run {
  v: number;
  n: number;
  since: number;
  fired: boolean;
}

/**
 * Flatline: a noisy field repeats exactly the same value `minCount` times over at least
 * `minDurationMs`: a stuck sensor or a frozen gateway replaying its last value. Fires once per
 * run; out-of-order readings are skipped.
 */
export function flatlineDetector(cfg: FlatlineConfig): Detector {
  const runs = new ExpiringState<Record<string, Run>>();
  return {
    name: 'flatline',
    reading(i: DetectInput, emit: Emit) {
      const fields = cfg.fields[i.entry.measurement];
      if (!fields || i.outOfOrder) return;
      const t = i.reading.eventMs;
      const s = runs.get(i.key, t, () => ({}));
      for (const field of fields) {
        const v = num(i, field);
        if (v === undefined) continue;
        const r = s[field];
        if (!r || r.v !== v) {
          s[field] = { v, n: 1, since: t, fired: false };
          continue;
        }
        r.n++;
        if (!r.fired && r.n >= cfg.minCount && t - r.since >= cfg.minDurationMs) {
          r.fired = true;
          emit(anomalyOf(i, { detector: 'flatline', kind: 'stuck', category: 'device-fault', field, value: v, detail: `${field} stuck at ${v} for ${r.n} readings (${Math.round((t - r.since) / 1000)} s)` }));
        }
      }
    },
    expire: (before) => runs.expire(before),
    size: () => runs.size,
    ...perDevice(runs, rec(obj<Run>({ v: isNum, n: isNum, since: isNum, fired: isBool }))),
  };
}
