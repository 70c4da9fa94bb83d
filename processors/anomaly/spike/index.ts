import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { ScoringCore } from '../score/core.js';
import { explain } from '../score/explain.js';
import { anomalyOf, ExpiringState, isNum, num, perDevice, type Check } from '../state.js';
import type { SpikeConfig } from './config.js';
import { coreParams } from './params.js';

/** The kind an alert is raised as, by the view that fired. */
const KIND = { level: 'spike', daily: 'contextual', range: 'new_range' } as const;

/**
 * Every scored numeric field of every device through the scoring core (processors/anomaly/score):
 * spikes and level shifts against a forecast, values unusual for the time of day, values beyond
 * the range ever seen; each calibrated by a likelihood over the series' own history, one alert
 * per event. One Float32Array per device and measurement holds all its fields. Out-of-order
 * readings are scored on a copy, so they cannot bend the baseline.
 */
export function spikeDetector(cfg: SpikeConfig): Detector {
  const cores = new Map<string, { field: string; core: ScoringCore; at: number }[]>();
  const layout = (m: string) => {
    let l = cores.get(m);
    if (!l) {
      let at = 0;
      l = (cfg.fields[m] ?? []).map((field) => {
        const core = new ScoringCore(coreParams(cfg, m, field));
        const e = { field, core, at };
        at += core.size;
        return e;
      });
      cores.set(m, l);
    }
    return l;
  };
  const length = (m: string) => layout(m).reduce((a, e) => a + e.core.size, 0);
  const states = new ExpiringState<Float32Array>();
  // Stored as a plain array; one of another length was made under other fields and is refused.
  const check: Check<Float32Array> = (j, m) => (Array.isArray(j) && j.length > 0 && j.length === length(m) && j.every((x) => isNum(x, m) !== undefined) ? Float32Array.from(j as number[]) : undefined);
  return {
    name: 'spike',
    reading(i: DetectInput, emit: Emit) {
      const m = i.entry.measurement;
      if (!cfg.fields[m]) return;
      const s = states.get(`${i.reading.device}|${m}`, i.reading.eventMs, () => new Float32Array(length(m)));
      for (const { field, core, at } of layout(m)) {
        const v = num(i, field);
        if (v === undefined) continue;
        const target = i.outOfOrder ? s.slice(at, at + core.size) : s;
        const r = core.score(target, i.outOfOrder ? 0 : at, i.reading.eventMs, v);
        if (!(r.alert || r.renamed) || !r.view) continue;
        const kind = r.view === 'level' && r.shift ? 'level_shift' : KIND[r.view];
        emit(anomalyOf(i, { detector: 'spike', kind, category: 'device-fault', field, value: v, score: Math.round(r.strength * 100) / 100, detail: explain(field, v, r), evidence: { view: r.view, likelihood: r.tail, expected: r.expected, noise: r.scale, z: Math.round(r.z * 100) / 100, hour: r.hour } }));
      }
    },
    expire: (before) => states.expire(before),
    size: () => states.size,
    ...perDevice(states, check, (s) => Array.from(s)),
  };
}
