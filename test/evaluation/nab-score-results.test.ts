import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scoreResults } from '../../evaluation/nab/score-results.js';
import { tempDir } from '../helpers/services.js';

const fmt = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const T0 = Date.UTC(2020, 0, 1);
const stamps = Array.from({ length: 1000 }, (_, i) => fmt(T0 + i * 300_000));

/** A one-file corpus with a window at rows 600-699, and a results folder in numenta/NAB's layout. */
function corpus(scoreAt: (i: number) => number, rows = 1000): { data: string; results: string } {
  const data = tempDir();
  mkdirSync(join(data, 'data', 'g'), { recursive: true });
  writeFileSync(join(data, 'data', 'g', 'f.csv'), ['timestamp,value', ...stamps.map((t) => `${t},1`)].join('\n') + '\n');
  writeFileSync(join(data, 'combined_windows.json'), JSON.stringify({ 'g/f.csv': [[`${stamps[600]}.000000`, `${stamps[699]}.000000`]] }));
  const results = join(tempDir(), 'det');
  mkdirSync(join(results, 'g'), { recursive: true });
  writeFileSync(join(results, 'g', 'det_f.csv'), ['timestamp,value,anomaly_score,label', ...stamps.slice(0, rows).map((t, i) => `${t},1,${scoreAt(i)},0`)].join('\n') + '\n');
  return { data, results };
}

describe('jlpipe nab --score: results of another detector, in NAB layout', () => {
  it('a detection at the first row of every window is the perfect detector (100); one at the last row of the window earns next to nothing', () => {
    const perfect = corpus((i) => (i === 600 ? 1 : 0));
    expect(scoreResults(perfect.data, perfect.results).scores.standard.normalised).toBeCloseTo(100, 6);
    const late = corpus((i) => (i === 699 ? 1 : 0));
    const r = scoreResults(late.data, late.results);
    expect(r.scores.standard.tp).toBe(1);
    expect(r.scores.standard.normalised).toBeLessThan(55);
    expect(r.groups.map((g) => g.group)).toEqual(['g']);
  });

  it('refuses results that do not match the data row for row', () => {
    const short = corpus(() => 0, 999);
    expect(() => scoreResults(short.data, short.results)).toThrow(/999 rows, the data file has 1000/);
  });
  it('finds <file>, <results folder>_<file> or the one *_<file>; a prefix picks among several', () => {
    const c = corpus((i) => (i === 600 ? 1 : 0));
    // Another detector's file beside it, scoring nothing.
    writeFileSync(join(c.results, 'g', 'other_f.csv'), ['timestamp,value,anomaly_score', ...stamps.map((t) => `${t},1,0`)].join('\n') + '\n');
    expect(scoreResults(c.data, c.results).scores.standard.normalised).toBeCloseTo(100, 6); // det_f.csv: the folder is "det"
    expect(scoreResults(c.data, c.results, { prefix: 'other' }).scores.standard.normalised).toBe(0);
    const moved = join(c.results, '..', 'elsewhere');
    renameSync(c.results, moved);
    expect(() => scoreResults(c.data, moved)).toThrow(/several: .*give the prefix/);
    expect(scoreResults(c.data, moved, { prefix: 'det' }).groups[0].profiles.standard).toMatchObject({ tp: 1, fp: 0, normalised: 100 });
  });
});
