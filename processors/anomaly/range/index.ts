import type { Detector, Emit, DetectInput } from '../../../core/anomaly.js';
import type { Rejection } from '../../../core/types.js';
import { anomalyOf, anomalyOfRejection, ExpiringState, isNum, num, perDevice, rec, type DetectorContext } from '../state.js';
import type { RangeConfig } from './config.js';

/**
 * Range: a value outside the catalogue schema's physical range (ingest refuses it; the refusal
 * carries the field and value) is a sensor fault or value injection. A value inside the physical
 * range but outside the configured operating limits for `consecutive` readings is a fault too.
 */
export function rangeDetector(cfg: RangeConfig, ctx: DetectorContext): Detector {
  const runs = new ExpiringState<Record<string, number>>();
  return {
    name: 'range',
    rejection(r: Rejection, emit: Emit) {
      if (r.signal?.kind !== 'range') return;
      const s = r.signal;
      const a = anomalyOfRejection(ctx, r, {
        detector: 'range',
        kind: 'physical',
        category: 'device-fault',
        field: s.field,
        value: s.value,
        detail: `${s.field} = ${s.value} is outside the physical range (${s.bound} ${s.limit})`,
      });
      if (a) emit(a);
    },
    reading(i: DetectInput, emit: Emit) {
      const limits = cfg.operating[i.entry.measurement];
      if (!limits) return;
      const run = runs.get(i.device.id, i.reading.eventMs, () => ({}));
      for (const [field, [lo, hi]] of Object.entries(limits)) {
        const v = num(i, field);
        if (v === undefined) continue;
        if (v >= lo && v <= hi) {
          run[field] = 0;
          continue;
        }
        run[field] = (run[field] ?? 0) + 1;
        if (run[field] === cfg.consecutive) {
          emit(anomalyOf(i, { detector: 'range', kind: 'operating', category: 'device-fault', field, value: v, detail: `${field} = ${v} outside operating limits [${lo}, ${hi}] for ${cfg.consecutive} readings` }));
        }
      }
    },
    expire: (before) => runs.expire(before),
    size: () => runs.size,
    ...perDevice(runs, rec(isNum)),
  };
}
