import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { TUNED } from '../../evaluation/nab/logo.js';
import { runNab } from '../../evaluation/nab/run.js';
import { tempDir } from '../helpers/services.js';

const spike = loadPipelineConfig(defaultConfigFile(), {}).detection.spike;
const fmt = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const T0 = Date.UTC(2020, 0, 1);

/** A NAB-shaped corpus: two groups, each a file with a labelled spike and a file without. */
function corpus(): string {
  const dir = tempDir();
  const windows: Record<string, [string, string][]> = {};
  for (const [g, at] of [['groupA', 700], ['groupB', 800]] as const) {
    mkdirSync(join(dir, 'data', g), { recursive: true });
    for (const [f, spikeAt] of [['spiky.csv', at], ['calm.csv', -1]] as const) {
      const rows = Array.from({ length: 1200 }, (_, i) => `${fmt(T0 + i * 300_000)},${(20 + Math.sin(i / 30) + (i >= spikeAt && i < spikeAt + 4 ? 15 : 0) + ((i * 31) % 7) / 20).toFixed(3)}`);
      writeFileSync(join(dir, 'data', g, f), ['timestamp,value', ...rows].join('\n') + '\n');
      windows[`${g}/${f}`] = spikeAt < 0 ? [] : [[`${fmt(T0 + (spikeAt - 40) * 300_000)}.000000`, `${fmt(T0 + (spikeAt + 40) * 300_000)}.000000`]];
    }
  }
  writeFileSync(join(dir, 'combined_windows.json'), JSON.stringify(windows));
  return dir;
}

describe('jlpipe nab: per group, leave one group out, one constant moved', () => {
  it('scores each group at the corpus threshold, holds each group out in turn, and moves a constant', () => {
    const dir = corpus();
    const r = runNab(dir, join(dir, 'out'), spike, { logo: true, vary: { silence: [10, 30] } });
    expect(r.scores!.standard.tp).toBe(2);
    expect(r.groups!.map((g) => [g.group, g.files, g.windows, g.profiles.standard.tp])).toEqual([
      ['groupA', 2, 1, 1],
      ['groupB', 2, 1, 1],
    ]);
    const logo = r.logo!;
    expect(logo.combinations).toBe(TUNED.sensitivity.length * TUNED.noiseMemory.length * TUNED.memory.length);
    expect(logo.grid).toHaveLength(logo.combinations);
    expect(logo.folds.map((f) => f.heldOut)).toEqual(['groupA', 'groupB']);
    // Each fold's constants come from the other group; both spikes are plain, so both are found.
    for (const f of logo.folds) expect(f.heldOutScore.standard).toBeGreaterThan(50);
    expect(logo.scores.standard).toBeGreaterThan(50);
    expect(logo.scoresTrainedThreshold.standard).toBeGreaterThan(50);
    expect(r.variations!.map((v) => [v.constant, v.value])).toEqual([
      ['silence', 10],
      ['silence', 30],
    ]);
    expect(r.variations![1].standard).toBeCloseTo(r.scores!.standard.normalised, 6); // 30 is the profile's own value
  });
});
