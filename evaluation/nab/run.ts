import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SpikeConfig } from '../../processors/anomaly/spike/config.js';
import { corpusWindows, detect, nabParams, readCorpus } from './corpus.js';
import { groupScores, leaveOneGroupOut, vary, type GroupScores, type LogoResult, type Variation } from './logo.js';
import { nabScores } from './scorer.js';

export { corpusWindows, detect, nabParams, readCorpus, type NabSeries } from './corpus.js';

export interface NabRun {
  files: number;
  rows: number;
  /** Time of the scoring core per point (parsing and writing not included). */
  nsPerPoint: number;
  scores?: ReturnType<typeof nabScores>;
  /** Per group, at the corpus-wide threshold of each profile. */
  groups?: GroupScores[];
  logo?: LogoResult;
  variations?: Variation[];
}

/**
 * Runs the detector over every CSV under `<data>/data`, writes `<out>/<same relative path>` as
 * `timestamp,value,anomaly_score`, and, when `<data>/combined_windows.json` exists, scores the
 * results with NAB's rules (the labels are read only after every file is detected), per group,
 * and with `logo` leave-one-group-out over the tuned constants (evaluation/nab/logo.ts).
 */
export function runNab(dataDir: string, outDir: string, cfg: SpikeConfig, opts: { logo?: boolean; vary?: Record<string, (number | boolean)[]>; log?: (m: string) => void } = {}): NabRun {
  const log = opts.log ?? (() => {});
  const corpus = readCorpus(dataDir);
  const params = nabParams(cfg);
  let ns = 0n;
  const results = corpus.map((f) => {
    const t0 = process.hrtime.bigint();
    const scores = detect(params, f);
    ns += process.hrtime.bigint() - t0;
    const target = join(outDir, f.name);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, ['timestamp,value,anomaly_score', ...f.stamps.map((t, i) => `${t},${f.xs[i]},${scores[i]}`)].join('\n') + '\n');
    log(`${f.name}: ${f.xs.length} rows`);
    return scores;
  });
  const rows = corpus.reduce((n, f) => n + f.xs.length, 0);
  const run: NabRun = { files: corpus.length, rows, nsPerPoint: Number(ns) / Math.max(1, rows) };
  const labelled = corpusWindows(dataDir, corpus);
  if (labelled) {
    const scored = labelled.map((f, i) => ({ ...f, scores: results[i] }));
    run.scores = nabScores(scored);
    run.groups = groupScores(scored, run.scores);
    if (opts.logo) run.logo = leaveOneGroupOut(corpus, labelled, cfg, log);
    if (opts.vary) run.variations = Object.entries(opts.vary).flatMap(([k, values]) => vary(corpus, labelled, cfg, k, values, log));
    writeFileSync(join(outDir, 'scores.json'), JSON.stringify(run, null, 2));
  }
  return run;
}
