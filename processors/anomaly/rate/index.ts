import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { RowsByMeasurement } from '../rows.js';
import { anomalyOf, isNum, num, obj, rec, type Check } from '../state.js';
import type { RateConfig } from './config.js';

/**
 * Rate of change: consecutive readings (in event time) of a field differ by more than physics
 * allows in the time between them. Out-of-order readings are skipped: their neighbour is unknown.
 *
 * A device's state is a row of numbers per measurement (processors/anomaly/rows.ts): the time of
 * its last reading, then the last value of each limited field in the order of `limits` (NaN:
 * none yet). Snapshots keep the JSON form `{t, v: {field: value}}`.
 */
export function rateDetector(cfg: RateConfig): Detector {
  const fieldsOf = (m: string) => Object.keys(cfg.limits[m] ?? {});
  // Each measurement's limits as a list, made once rather than per reading.
  const lists = new Map(Object.entries(cfg.limits).map(([m, l]) => [m, Object.entries(l)]));
  const rows = new RowsByMeasurement((m) => (cfg.limits[m] ? fieldsOf(m).length + 1 : 0), (n) => new Float64Array(n));
  const record = obj({ t: isNum, v: rec(isNum) });
  // A snapshot's fields outside the current limits are dropped.
  const decode: Check<number[]> = (j, m) => {
    const r = record(j, m);
    return r && [r.t, ...fieldsOf(m).map((f) => (Object.hasOwn(r.v, f) ? r.v[f] : NaN))];
  };
  const encode = (row: number[], m: string) => {
    const v: Record<string, number> = {};
    fieldsOf(m).forEach((f, k) => {
      if (!Number.isNaN(row[k + 1])) v[f] = row[k + 1];
    });
    return { t: row[0], v };
  };
  return {
    name: 'rate',
    reading(i: DetectInput, emit: Emit) {
      const limits = lists.get(i.entry.measurement);
      if (!limits || i.outOfOrder) return;
      const table = rows.of(i.entry.measurement)!;
      const t = i.reading.eventMs;
      const row = table.row(i.slot, t, (d, o) => {
        d.fill(NaN, o + 1, o + table.width);
        d[o] = t;
      });
      const s = table.chunk(row);
      const o = table.offset(row);
      const dt = Math.max(0, (t - s[o]) / 1000);
      for (const [k, [field, [abs, perSec]]] of limits.entries()) {
        const v = num(i, field);
        if (v === undefined) continue;
        const prev = s[o + k + 1];
        s[o + k + 1] = v;
        if (Number.isNaN(prev)) continue;
        const allowed = abs + perSec * dt;
        if (Math.abs(v - prev) > allowed) {
          emit(anomalyOf(i, { detector: 'rate', kind: 'too_fast', category: 'device-fault', field, value: v, detail: `${field} changed ${prev} -> ${v} in ${dt.toFixed(0)} s (at most ${allowed.toFixed(2)} possible)` }));
        }
      }
      s[o] = t;
    },
    expire: (before) => rows.expire(before),
    size: () => rows.size,
    snapshot: (_device, slot) => rows.snapshot(slot, encode),
    restore: (_device, snap, slot) => rows.restore(slot, snap, decode),
  };
}
