import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { groupScores, type GroupScores } from './logo.js';
import { corpusWindows, readCorpus } from './corpus.js';
import { nabScores } from './scorer.js';

/**
 * Scores results another detector wrote in NAB's format (`timestamp,value,anomaly_score,...`,
 * one file per data file at `<results>/<group>/[<detector>_]<file>.csv`, as in numenta/NAB's
 * `results/`) with our scorer: how `jlpipe nab --score` shows that the scorer agrees with NAB's
 * own on a published detector.
 */
export function scoreResults(dataDir: string, resultsDir: string): { files: number; scores: ReturnType<typeof nabScores>; groups: GroupScores[] } {
  const corpus = readCorpus(dataDir);
  const labelled = corpusWindows(dataDir, corpus);
  if (!labelled) throw new Error(`${join(dataDir, 'combined_windows.json')} does not exist: nothing to score against`);
  const scored = labelled.map((f, i) => {
    const dir = join(resultsDir, dirname(f.name));
    const file = basename(f.name);
    const found = existsSync(join(dir, file)) ? join(dir, file) : existsSync(dir) ? readdirSync(dir).find((n) => n.endsWith(`_${file}`)) : undefined;
    if (!found) throw new Error(`no results for ${f.name} under ${resultsDir}`);
    const path = found.includes('/') ? found : join(dir, found);
    const rows = readFileSync(path, 'utf8').trim().split(/\r?\n/).slice(1);
    if (rows.length !== corpus[i].xs.length) throw new Error(`${path}: ${rows.length} rows, the data file has ${corpus[i].xs.length}`);
    return { ...f, scores: rows.map((r) => Number(r.split(',')[2])) };
  });
  const scores = nabScores(scored);
  return { files: scored.length, scores, groups: groupScores(scored, scores) };
}
