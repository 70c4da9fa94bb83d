import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { RowsByMeasurement } from '../rows.js';
import { anomalyOf, isNum, num, rec, type Check } from '../state.js';
import type { EnergyConfig } from './config.js';

const PHASES = ['a', 'b', 'c'].map((ph) => [`voltage_${ph}`, `current_${ph}`] as const);

/**
 * Energy consistency (false data injection): active power that disagrees with the sum over phases
 * of V x I x PF, and cumulative counters (energy, heat, production) that go down. Both are values
 * that pass range checks but break physics. Counters skip out-of-order readings.
 */
export function energyDetector(cfg: EnergyConfig): Detector {
  // A device's counters: a row per measurement (rows.ts), the last value of each field in the
  // order of `counters` (NaN: none yet). Snapshots keep the JSON form `{field: value}`.
  const counters = new RowsByMeasurement((m) => cfg.counters[m]?.length ?? 0, (n) => new Float64Array(n));
  const record = rec(isNum);
  const decode: Check<number[]> = (j, m) => {
    const r = record(j, m);
    return r && (cfg.counters[m] ?? []).map((f) => (Object.hasOwn(r, f) ? r[f] : NaN));
  };
  const encode = (row: number[], m: string) => Object.fromEntries((cfg.counters[m] ?? []).flatMap((f, k) => (Number.isNaN(row[k]) ? [] : [[f, row[k]]])));
  return {
    name: 'energy',
    reading(i: DetectInput, emit: Emit) {
      const m = i.entry.measurement;
      if (cfg.meters.includes(m)) {
        const p = num(i, 'active_power');
        const pf = num(i, 'power_factor');
        if (p !== undefined && pf !== undefined) {
          let calc = 0;
          for (const [voltage, current] of PHASES) calc += (num(i, voltage) ?? 0) * (num(i, current) ?? 0) * pf;
          calc /= 1000;
          const gap = Math.abs(p - calc);
          if (gap > Math.max(cfg.powerToleranceKw, cfg.powerTolerance * Math.abs(calc))) {
            emit(anomalyOf(i, { detector: 'energy', kind: 'power_mismatch', category: 'data-security', field: 'active_power', value: p, detail: `active power ${p} kW but V x I x PF gives ${calc.toFixed(2)} kW` }));
          }
        }
      }
      const list = cfg.counters[m];
      if (!list || i.outOfOrder) return;
      const table = counters.of(m)!;
      const row = table.row(i.slot, i.reading.eventMs, (d, o) => d.fill(NaN, o, o + table.width));
      const s = table.chunk(row);
      const o = table.offset(row);
      for (const [k, field] of list.entries()) {
        const v = num(i, field);
        if (v === undefined) continue;
        const prev = s[o + k];
        s[o + k] = v;
        if (v < prev) {
          emit(anomalyOf(i, { detector: 'energy', kind: 'counter_decrease', category: 'data-security', field, value: v, detail: `cumulative ${field} went down from ${prev} to ${v}` }));
        }
      }
    },
    expire: (before) => counters.expire(before),
    size: () => counters.size,
    snapshot: (_device, slot) => counters.snapshot(slot, encode),
    restore: (_device, snap, slot) => counters.restore(slot, snap, decode),
  };
}
