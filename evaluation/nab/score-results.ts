import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { corpusWindows, readCorpus } from './corpus.js';
import { groupNabScores, nabScores, type GroupNabScores, type NabResult } from './scorer.js';

/**
 * The results file of one data file (`group/file.csv`): `<results>/group/<prefix>_file.csv` when a
 * prefix is given, else `<results>/group/file.csv`, `<results>/group/<basename(results)>_file.csv`
 * (numenta/NAB's layout: `results/numenta/realTraffic/numenta_speed_6005.csv`), or the one
 * `*_file.csv` there.
 */
function resultsFile(resultsDir: string, name: string, prefix?: string): string {
  const dir = join(resultsDir, dirname(name));
  const file = basename(name);
  const tries = prefix !== undefined ? [`${prefix}_${file}`] : [file, `${basename(resultsDir)}_${file}`];
  for (const t of tries) if (existsSync(join(dir, t))) return join(dir, t);
  const others = prefix === undefined && existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith(`_${file}`)) : [];
  if (others.length === 1) return join(dir, others[0]);
  throw new Error(`no results for ${name} under ${resultsDir}` + (others.length > 1 ? ` (several: ${others.join(', ')}; give the prefix)` : ''));
}

export interface ScoredResults {
  files: number;
  /** Per profile, at the threshold NAB's sweep finds best on the whole set. */
  scores: Record<string, NabResult>;
  /** Per group, at the whole set's threshold of each profile. */
  groups: GroupNabScores[];
}

/**
 * Scores results another detector wrote in NAB's format (`timestamp,value,anomaly_score,...`,
 * one file per data file, row for row) with our scorer against `<data>/combined_windows.json`:
 * how `jlpipe nab --score` shows that the scorer agrees with NAB's own on a published detector.
 */
export function scoreResults(dataDir: string, resultsDir: string, opts: { prefix?: string } = {}): ScoredResults {
  const corpus = readCorpus(dataDir);
  const labelled = corpusWindows(dataDir, corpus);
  if (!labelled) throw new Error(`${join(dataDir, 'combined_windows.json')} does not exist: nothing to score against`);
  const scored = labelled.map((f, i) => {
    const path = resultsFile(resultsDir, f.name, opts.prefix);
    const rows = readFileSync(path, 'utf8').trim().split(/\r?\n/).slice(1);
    if (rows.length !== corpus[i].xs.length) throw new Error(`${path}: ${rows.length} rows, the data file has ${corpus[i].xs.length}`);
    return { ...f, scores: rows.map((r) => Number(r.split(',')[2])) };
  });
  const scores = nabScores(scored);
  const thresholds = Object.fromEntries(Object.entries(scores).map(([p, r]) => [p, r.threshold]));
  return { files: scored.length, scores, groups: groupNabScores(scored, thresholds) };
}
