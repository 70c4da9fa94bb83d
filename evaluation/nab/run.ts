import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { SpikeConfig } from '../../processors/anomaly/spike/config.js';
import { SeriesScorer } from '../../processors/anomaly/spike/score.js';
import { nabScores, type ScoredFile } from './scorer.js';

/**
 * The pipeline's spike / level-shift scorer as a NAB detector: one series, point by point, no
 * look-ahead, O(1) per point. Evidence is the scorer's |z| against spikeZ and its CUSUM against
 * shiftH (1 = where the pipeline raises an anomaly). The anomaly score rewards a new excursion:
 * evidence above the recent, slowly decaying peak scores by how far it beats it, anything else
 * scores 0, so one anomaly alerts once rather than on every point it lasts.
 */
export class NabDetector {
  private readonly scorer: SeriesScorer;
  private readonly state = SeriesScorer.state();
  private peak = 0;

  constructor(private readonly cfg: SpikeConfig, private readonly peakDecay = 0.995) {
    this.scorer = new SeriesScorer(cfg);
  }

  next(x: number): number {
    const { z, cusum } = this.scorer.score(this.state, 0, x);
    const raw = Math.max(Math.abs(z) / this.cfg.spikeZ, cusum / this.cfg.shiftH);
    const prev = this.peak;
    this.peak = Math.max(raw, this.peak * this.peakDecay);
    if (!(raw > prev && prev > 0)) return 0;
    return 0.5 * Math.min(1, raw / prev - 1) + (0.5 * raw) / (1 + raw);
  }
}

/** The scorer settings `jlpipe nab` uses: the spike config with its `nab` override applied. */
export const nabConfig = (spike: SpikeConfig): SpikeConfig => ({ ...spike, ...(spike.overrides.nab ?? {}) });

function csvFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? csvFiles(join(dir, e.name)) : e.name.endsWith('.csv') ? [join(dir, e.name)] : []));
}

/** NAB timestamps ("2014-04-10 07:15:00[.000000]") as ms, read as UTC. */
const tsMs = (s: string) => Date.parse(`${s.trim().replace(' ', 'T').slice(0, 23)}Z`);

export interface NabRun {
  files: number;
  rows: number;
  scores?: ReturnType<typeof nabScores>;
  nsPerPoint: number;
}

/**
 * Runs the detector over every CSV under `<data>/data`, writes `<out>/<same relative path>` as
 * `timestamp,value,anomaly_score`, and, when `<data>/combined_windows.json` exists, scores the
 * results with NAB's rules (the labels are read only after every file is detected).
 */
export function runNab(dataDir: string, outDir: string, cfg: SpikeConfig, log: (m: string) => void = () => {}): NabRun {
  const root = join(dataDir, 'data');
  const files = csvFiles(root).sort();
  const results: { name: string; ts: number[]; scores: number[] }[] = [];
  let rows = 0;
  let ns = 0n;
  for (const file of files) {
    const name = relative(root, file).split('\\').join('/');
    const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/).slice(1);
    const det = new NabDetector(nabConfig(cfg));
    const out: string[] = ['timestamp,value,anomaly_score'];
    const ts: number[] = [];
    const scores: number[] = [];
    const t0 = process.hrtime.bigint();
    for (const line of lines) {
      const [t, v] = line.split(',');
      const s = det.next(Number(v));
      scores.push(s);
      ts.push(tsMs(t));
      out.push(`${t},${v},${s}`);
    }
    ns += process.hrtime.bigint() - t0;
    rows += lines.length;
    const target = join(outDir, name);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, out.join('\n') + '\n');
    results.push({ name, ts, scores });
    log(`${name}: ${lines.length} rows`);
  }
  const run: NabRun = { files: files.length, rows, nsPerPoint: Number(ns) / Math.max(1, rows) };
  const windowsFile = join(dataDir, 'combined_windows.json');
  if (existsSync(windowsFile)) {
    const windows = JSON.parse(readFileSync(windowsFile, 'utf8')) as Record<string, [string, string][]>;
    const scored: ScoredFile[] = results.map((r) => ({
      name: r.name,
      scores: r.scores,
      windows: (windows[r.name] ?? []).map(([a, b]) => {
        const [s, e] = [tsMs(a), tsMs(b)];
        const first = r.ts.findIndex((t) => t >= s);
        let last = -1;
        for (let i = r.ts.length - 1; i >= 0; i--) if (r.ts[i] <= e) { last = i; break; }
        return [first, last] as [number, number];
      }).filter(([a, b]) => a >= 0 && b >= a),
    }));
    run.scores = nabScores(scored);
    writeFileSync(join(outDir, 'scores.json'), JSON.stringify(run, null, 2));
  }
  return run;
}
