import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { anomalyOf, ExpiringState, isNum, num, perDevice, type Check } from '../state.js';
import type { SpikeConfig } from './config.js';
import { SeriesScorer } from './score.js';

const HOURS = 24;

/**
 * Spike / level shift per device and field (see SeriesScorer). Fields listed as seasonal keep one
 * baseline per hour of day (Beijing time), for series sampled too rarely for the trend to follow
 * their daily cycle. Out-of-order readings are scored but do not update the baseline.
 */
export function spikeDetector(cfg: SpikeConfig): Detector {
  const base = new SeriesScorer(cfg);
  const scorers = new Map(Object.entries(cfg.overrides).map(([m, o]) => [m, new SeriesScorer({ ...cfg, ...o })]));
  const states = new ExpiringState<Float64Array>();
  const length = (m: string) => (cfg.fields[m] ?? []).reduce((a, f) => a + ((cfg.seasonal[m] ?? []).includes(f) ? HOURS : 1), 0) * SeriesScorer.SLOTS;
  // Stored as a plain array; one of another length was made under other fields and is refused.
  const check: Check<Float64Array> = (j, m) => (Array.isArray(j) && j.length > 0 && j.length === length(m) && j.every((x) => isNum(x, m) !== undefined) ? Float64Array.from(j as number[]) : undefined);
  return {
    name: 'spike',
    reading(i: DetectInput, emit: Emit) {
      const fields = cfg.fields[i.entry.measurement];
      if (!fields) return;
      const seasonal = cfg.seasonal[i.entry.measurement] ?? [];
      const slots = fields.map((f) => (seasonal.includes(f) ? HOURS : 1));
      const s = states.get(`${i.reading.device}|${i.entry.measurement}`, i.reading.eventMs, () => new Float64Array(length(i.entry.measurement)));
      const hour = Math.floor(((i.reading.eventMs / 3_600_000 + 8) % 24 + 24) % 24);
      const scorer = scorers.get(i.entry.measurement) ?? base;
      let at = 0;
      for (const [k, field] of fields.entries()) {
        const o = (at + (slots[k] === HOURS ? hour : 0)) * SeriesScorer.SLOTS;
        at += slots[k];
        const v = num(i, field);
        if (v === undefined) continue;
        // An out-of-order reading is scored on a copy, so it cannot bend the baseline.
        const target = i.outOfOrder ? s.slice(o, o + SeriesScorer.SLOTS) : s;
        const { verdict } = scorer.score(target, i.outOfOrder ? 0 : o, v);
        if (verdict) {
          const what = verdict.kind === 'spike' ? 'spike' : 'level shift';
          emit(anomalyOf(i, { detector: 'spike', kind: verdict.kind, category: 'device-fault', field, value: v, score: Math.round(verdict.z * 10) / 10, detail: `${what} in ${field}: ${v} is ${Math.abs(verdict.z).toFixed(1)} noise units from the forecast` }));
        }
      }
    },
    expire: (before) => states.expire(before),
    size: () => states.size,
    ...perDevice(states, check, (s) => Array.from(s)),
  };
}
