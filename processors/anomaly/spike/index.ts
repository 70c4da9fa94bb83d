import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { ScoringCore } from '../score/core.js';
import { explain } from '../score/explain.js';
import { RowsByMeasurement } from '../rows.js';
import { anomalyOf, isNum, num, type Check } from '../state.js';
import type { SpikeConfig } from './config.js';
import { coreParams } from './params.js';

/** The kind an alert is raised as, by the view that fired. */
const KIND = { level: 'spike', daily: 'contextual', range: 'new_range' } as const;

/**
 * Every scored numeric field of every device through the scoring core (processors/anomaly/score):
 * spikes and level shifts against a forecast, values unusual for the time of day, values beyond
 * the range ever seen; each calibrated by a likelihood over the series' own history, one alert
 * per event. A device's state is one row of a Float32Array table per measurement (processors/
 * anomaly/rows.ts), holding all its scored fields.
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
  // A device's row holds the state of every scored field of the measurement, one after another.
  const rows = new RowsByMeasurement((m) => layout(m).reduce((a, e) => a + e.core.size, 0), (n) => new Float32Array(n));
  // Stored as a plain array of the row's length (one of another length was made under other
  // fields); a row of the previous release's layout (one number less per field) is brought up to date.
  const decode: Check<number[]> = (j, m) => {
    if (!Array.isArray(j) || !j.every((x) => isNum(x, m) !== undefined)) return undefined;
    const row = j as number[];
    const l = layout(m);
    if (row.length !== l.reduce((a, e) => a + e.core.size - 1, 0)) return row;
    const out: number[] = [];
    let at = 0;
    for (const { core } of l) {
      out.push(...core.fromPreviousLayout(row.slice(at, at + core.size - 1))!);
      at += core.size - 1;
    }
    return out;
  };
  return {
    name: 'spike',
    reading(i: DetectInput, emit: Emit) {
      const m = i.entry.measurement;
      const table = rows.of(m);
      if (!table) return;
      const row = table.row(i.slot, i.reading.eventMs);
      const d = table.chunk(row);
      const o = table.offset(row);
      for (const { field, core, at } of layout(m)) {
        const v = num(i, field);
        if (v === undefined) continue;
        // Out-of-order readings are scored on a copy, so they cannot bend the baseline.
        const r = i.outOfOrder ? core.score(d.slice(o + at, o + at + core.size), 0, i.reading.eventMs, v) : core.score(d, o + at, i.reading.eventMs, v);
        // A rename on an out-of-order copy is not kept by the state, so the next reading would say it again.
        if (!(r.alert || (r.renamed && !i.outOfOrder)) || !r.view) continue;
        const kind = r.view === 'level' && r.shift ? 'level_shift' : KIND[r.view];
        emit(anomalyOf(i, { detector: 'spike', kind, category: 'device-fault', field, value: v, score: Math.round(r.strength * 100) / 100, detail: explain(field, v, r), evidence: { view: r.view, likelihood: r.tail, expected: r.expected, noise: r.scale, z: Math.round(r.z * 100) / 100, hour: r.hour } }));
      }
    },
    expire: (before) => rows.expire(before),
    size: () => rows.size,
    snapshot: (_device, slot) => rows.snapshot(slot, (row) => row),
    restore: (_device, snap, slot) => rows.restore(slot, snap, decode),
  };
}
