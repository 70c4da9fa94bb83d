import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { anomalyOf, ExpiringState, isNum, num, perDevice, rec } from '../state.js';
import type { EnergyConfig } from './config.js';

const PHASES = ['a', 'b', 'c'];

/**
 * Energy consistency (false data injection): active power that disagrees with the sum over phases
 * of V x I x PF, and cumulative counters (energy, heat, production) that go down. Both are values
 * that pass range checks but break physics. Counters skip out-of-order readings.
 */
export function energyDetector(cfg: EnergyConfig): Detector {
  const counters = new ExpiringState<Record<string, number>>();
  return {
    name: 'energy',
    reading(i: DetectInput, emit: Emit) {
      const m = i.entry.measurement;
      if (cfg.meters.includes(m)) {
        const p = num(i, 'active_power');
        const pf = num(i, 'power_factor');
        if (p !== undefined && pf !== undefined) {
          let calc = 0;
          for (const ph of PHASES) calc += (num(i, `voltage_${ph}`) ?? 0) * (num(i, `current_${ph}`) ?? 0) * pf;
          calc /= 1000;
          const gap = Math.abs(p - calc);
          if (gap > Math.max(cfg.powerToleranceKw, cfg.powerTolerance * Math.abs(calc))) {
            emit(anomalyOf(i, { detector: 'energy', kind: 'power_mismatch', category: 'data-security', field: 'active_power', value: p, detail: `active power ${p} kW but V x I x PF gives ${calc.toFixed(2)} kW` }));
          }
        }
      }
      const list = cfg.counters[m];
      if (!list || i.outOfOrder) return;
      const s = counters.get(i.key, i.reading.eventMs, () => ({}));
      for (const field of list) {
        const v = num(i, field);
        if (v === undefined) continue;
        const prev = s[field];
        s[field] = v;
        if (prev !== undefined && v < prev) {
          emit(anomalyOf(i, { detector: 'energy', kind: 'counter_decrease', category: 'data-security', field, value: v, detail: `cumulative ${field} went down from ${prev} to ${v}` }));
        }
      }
    },
    expire: (before) => counters.expire(before),
    size: () => counters.size,
    ...perDevice(counters, rec(isNum)),
  };
}
