import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { anomalyOf, ExpiringState, isNum, num, obj, perDevice, rec, type Check } from '../state.js';
import type { RateConfig } from './config.js';

/**
 * Rate of change: consecutive readings (in event time) of a field differ by more than physics
 * allows in the time between them. Out-of-order readings are skipped: their neighbour is unknown.
 *
 * A device's state is one array of numbers: the time of its last reading, then the last value
 * of each limited field in the order of `limits` (NaN: none yet), with no object per device
 * and field, as it is held for every device. Snapshots keep the JSON form `{t, v: {field: value}}`.
 */
export function rateDetector(cfg: RateConfig): Detector {
  const last = new ExpiringState<number[]>();
  const fieldsOf = (m: string) => Object.keys(cfg.limits[m] ?? {});
  // Made at its exact size, as an array of doubles (a spread would leave spare capacity).
  const fresh = (t: number, n: number) => {
    const s = new Array<number>(n + 1).fill(NaN);
    s[0] = t;
    return s;
  };
  const record = obj({ t: isNum, v: rec(isNum) });
  // A snapshot's fields outside the current limits are dropped.
  const check: Check<number[]> = (j, m) => {
    const r = record(j, m);
    if (!r) return undefined;
    const fields = fieldsOf(m);
    const s = fresh(r.t, fields.length);
    fields.forEach((f, k) => {
      if (Object.hasOwn(r.v, f)) s[k + 1] = r.v[f];
    });
    return s;
  };
  const encode = (s: number[], m: string) => {
    const v: Record<string, number> = {};
    fieldsOf(m).forEach((f, k) => {
      if (!Number.isNaN(s[k + 1])) v[f] = s[k + 1];
    });
    return { t: s[0], v };
  };
  return {
    name: 'rate',
    reading(i: DetectInput, emit: Emit) {
      const limits = cfg.limits[i.entry.measurement];
      if (!limits || i.outOfOrder) return;
      const entries = Object.entries(limits);
      let s = last.get(i.key, i.reading.eventMs, () => fresh(i.reading.eventMs, entries.length));
      if (s.length !== entries.length + 1) last.set(i.key, (s = fresh(i.reading.eventMs, entries.length)), i.reading.eventMs);
      const dt = Math.max(0, (i.reading.eventMs - s[0]) / 1000);
      for (const [k, [field, [abs, perSec]]] of entries.entries()) {
        const v = num(i, field);
        if (v === undefined) continue;
        const prev = s[k + 1];
        s[k + 1] = v;
        if (Number.isNaN(prev)) continue;
        const allowed = abs + perSec * dt;
        if (Math.abs(v - prev) > allowed) {
          emit(anomalyOf(i, { detector: 'rate', kind: 'too_fast', category: 'device-fault', field, value: v, detail: `${field} changed ${prev} -> ${v} in ${dt.toFixed(0)} s (at most ${allowed.toFixed(2)} possible)` }));
        }
      }
      s[0] = i.reading.eventMs;
    },
    expire: (before) => last.expire(before),
    size: () => last.size,
    ...perDevice(last, check, encode),
  };
}
