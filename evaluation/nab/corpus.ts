import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ScoringCore, type CoreParams } from '../../processors/anomaly/score/core.js';
import type { SpikeConfig } from '../../processors/anomaly/spike/config.js';
import { coreParams } from '../../processors/anomaly/spike/params.js';
import type { ScoredFile } from './scorer.js';

/** A NAB corpus on disk, and the scoring core run over it. */

function csvFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? csvFiles(join(dir, e.name)) : e.name.endsWith('.csv') ? [join(dir, e.name)] : []));
}

/** NAB timestamps ("2014-04-10 07:15:00[.000000]") as ms, read as UTC. */
const tsMs = (s: string) => Date.parse(`${s.trim().replace(' ', 'T').slice(0, 23)}Z`);

/** One NAB series: its name (`group/file.csv`), raw timestamp strings, times and values. */
export interface NabSeries {
  name: string;
  group: string;
  stamps: string[];
  ts: number[];
  xs: number[];
}

/** Every CSV under `<data>/data`, in name order. */
export function readCorpus(dataDir: string): NabSeries[] {
  const root = join(dataDir, 'data');
  return csvFiles(root).sort().map((file) => {
    const name = relative(root, file).split('\\').join('/');
    const rows = readFileSync(file, 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.split(','));
    return { name, group: name.split('/')[0], stamps: rows.map((r) => r[0]), ts: rows.map((r) => tsMs(r[0])), xs: rows.map((r) => Number(r[1])) };
  });
}

/** Labelled windows as inclusive row ranges, or undefined without `<data>/combined_windows.json`. */
export function corpusWindows(dataDir: string, corpus: NabSeries[]): ScoredFile[] | undefined {
  const file = join(dataDir, 'combined_windows.json');
  if (!existsSync(file)) return undefined;
  const windows = JSON.parse(readFileSync(file, 'utf8')) as Record<string, [string, string][]>;
  return corpus.map((f) => ({
    name: f.name,
    scores: [],
    windows: (windows[f.name] ?? [])
      .map(([a, b]) => {
        const [s, e] = [tsMs(a), tsMs(b)];
        const first = f.ts.findIndex((t) => t >= s);
        let last = -1;
        for (let i = f.ts.length - 1; i >= 0; i--)
          if (f.ts[i] <= e) {
            last = i;
            break;
          }
        return [first, last] as [number, number];
      })
      .filter(([a, b]) => a >= 0 && b >= a),
  }));
}

/** The detector's score for every row of one series (a fresh state per series). */
export function detect(params: CoreParams, f: NabSeries): number[] {
  const core = new ScoringCore(params);
  const state = core.state();
  return f.xs.map((x, i) => core.score(state, 0, f.ts[i], x).score);
}

/** The scoring core's constants for `jlpipe nab`: the `nab` profile with the time-of-day view. */
export const nabParams = (cfg: SpikeConfig): CoreParams => coreParams(cfg, 'nab', undefined, true);
