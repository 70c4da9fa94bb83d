import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { anomalyOf, ExpiringState, isBool, isNum, num, obj, perDevice, rec, type Check } from '../state.js';
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
 * A device's state is one array of numbers, four per field in the order of `fields` (no object
 * per field): it is held for every device. Snapshots keep the JSON form `{field: Run}`.
 */
export function flatlineDetector(cfg: FlatlineConfig): Detector {
  const runs = new ExpiringState<number[]>();
  const fresh = (fields: readonly string[]) => new Array<number>(fields.length * RUN).fill(NaN);
  const record = rec(obj<Run>({ v: isNum, n: isNum, since: isNum, fired: isBool }));
  // A snapshot's fields outside the current config are dropped; a measurement it no longer
  // watches restores as no state.
  const check: Check<number[]> = (j, m) => {
    const r = record(j, m);
    if (!r) return undefined;
    const fields = cfg.fields[m] ?? [];
    const s = fresh(fields);
    fields.forEach((f, k) => {
      if (Object.hasOwn(r, f)) s.splice(k * RUN, RUN, r[f].v, r[f].n, r[f].since, r[f].fired ? 1 : 0);
    });
    return s;
  };
  const encode = (s: number[], m: string) => {
    const out: Record<string, Run> = {};
    (cfg.fields[m] ?? []).forEach((f, k) => {
      if (!Number.isNaN(s[k * RUN])) out[f] = { v: s[k * RUN], n: s[k * RUN + 1], since: s[k * RUN + 2], fired: s[k * RUN + 3] === 1 };
    });
    return out;
  };
  return {
    name: 'flatline',
    reading(i: DetectInput, emit: Emit) {
      const fields = cfg.fields[i.entry.measurement];
      if (!fields || i.outOfOrder) return;
      const t = i.reading.eventMs;
      let s = runs.get(i.key, t, () => fresh(fields));
      if (s.length !== fields.length * RUN) runs.set(i.key, (s = fresh(fields)), t); // fields changed by a reload
      for (const [k, field] of fields.entries()) {
        const v = num(i, field);
        if (v === undefined) continue;
        const at = k * RUN;
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
    expire: (before) => runs.expire(before),
    size: () => runs.size,
    ...perDevice(runs, check, encode),
  };
}
