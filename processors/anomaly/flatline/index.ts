import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { RowsByMeasurement } from '../rows.js';
import { anomalyOf, isBool, isNum, num, obj, rec, type Check } from '../state.js';
import type { FlatlineConfig } from './config.js';

interface Run {
  v: number;
  n: number;
  since: number;
  fired: boolean;
}

/** Numbers per field in a device's state: value, count, since, fired (1 or 0); a NaN value is no run yet. */
const RUN = 4;

/**
 * Flatline: a noisy field repeats exactly the same value `minCount` times over at least
 * `minDurationMs`: a stuck sensor or a frozen gateway replaying its last value. Fires once per
 * run; out-of-order readings are skipped.
 *
 * A device's state is a row of numbers per measurement (processors/anomaly/rows.ts), four per
 * field in the order of `fields`. Snapshots keep the JSON form `{field: Run}`.
 */
export function flatlineDetector(cfg: FlatlineConfig): Detector {
  const rows = new RowsByMeasurement((m) => (cfg.fields[m]?.length ?? 0) * RUN, (n) => new Float64Array(n));
  const record = rec(obj<Run>({ v: isNum, n: isNum, since: isNum, fired: isBool }));
  // A snapshot's fields outside the current config are dropped.
  const decode: Check<number[]> = (j, m) => {
    const r = record(j, m);
    return r && (cfg.fields[m] ?? []).flatMap((f) => (Object.hasOwn(r, f) ? [r[f].v, r[f].n, r[f].since, r[f].fired ? 1 : 0] : [NaN, NaN, NaN, NaN]));
  };
  const encode = (row: number[], m: string) => {
    const out: Record<string, Run> = {};
    (cfg.fields[m] ?? []).forEach((f, k) => {
      if (!Number.isNaN(row[k * RUN])) out[f] = { v: row[k * RUN], n: row[k * RUN + 1], since: row[k * RUN + 2], fired: row[k * RUN + 3] === 1 };
    });
    return out;
  };
  return {
    name: 'flatline',
    reading(i: DetectInput, emit: Emit) {
      const fields = cfg.fields[i.entry.measurement];
      if (!fields || i.outOfOrder) return;
      const t = i.reading.eventMs;
      const table = rows.of(i.entry.measurement)!;
      const row = table.row(i.slot, t, (d, o) => d.fill(NaN, o, o + table.width));
      const s = table.chunk(row);
      const o = table.offset(row);
      for (const [k, field] of fields.entries()) {
        const v = num(i, field);
        if (v === undefined) continue;
        const at = o + k * RUN;
        if (s[at] !== v) {
          s[at] = v;
          s[at + 1] = 1;
          s[at + 2] = t;
          s[at + 3] = 0;
          continue;
        }
        const n = ++s[at + 1];
        if (s[at + 3] === 0 && n >= cfg.minCount && t - s[at + 2] >= cfg.minDurationMs) {
          s[at + 3] = 1;
          emit(anomalyOf(i, { detector: 'flatline', kind: 'stuck', category: 'device-fault', field, value: v, detail: `${field} stuck at ${v} for ${n} readings (${Math.round((t - s[at + 2]) / 1000)} s)` }));
        }
      }
    },
    expire: (before) => rows.expire(before),
    size: () => rows.size,
    snapshot: (_device, slot) => rows.snapshot(slot, encode),
    restore: (_device, snap, slot) => rows.restore(slot, snap, decode),
  };
}
