import type { SpikeConfig } from '../../processors/anomaly/spike/config.js';
import { detect, nabParams, type NabSeries } from './corpus.js';
import { groupNabScores, groupOf, nabScores, PROFILES, scoreAtThreshold, type GroupNabScores, type ScoredFile } from './scorer.js';

/**
 * The constants tuned on NAB and the values tried for each (docs/DETECTION.md). Everything else
 * in the `nab` profile was set from the published detectors' choices and never swept.
 */
export const TUNED = {
  sensitivity: [0.5, 0.55, 0.6],
  noiseMemory: [0.004, 0.006, 0.008],
  memory: [0.0003, 0.0005, 0.001],
} as const;
type Tuned = { [K in keyof typeof TUNED]: number };

/** Scores binarised at a threshold: what a detector alerting at that score reports. */
const at = (files: ScoredFile[], threshold: number): ScoredFile[] => files.map((f) => ({ ...f, scores: f.scores.map((s) => (s >= threshold ? 1 : 0)) }));
const windowsIn = (files: ScoredFile[]) => files.reduce((n, f) => n + f.windows.length, 0);

export type GroupScores = GroupNabScores;

/** Each group scored alone, at the threshold chosen on the whole corpus for each profile (no re-sweep). */
export const groupScores = (files: ScoredFile[], corpus: ReturnType<typeof nabScores>): GroupScores[] =>
  groupNabScores(files, Object.fromEntries(Object.entries(corpus).map(([p, r]) => [p, r.threshold])));

export interface LogoResult {
  tuned: typeof TUNED;
  combinations: number;
  /**
   * Per profile: every file's scores from the constants chosen without its group, pooled and
   * scored as NAB scores any detector's results (one threshold for the whole set, NAB's sweep).
   */
  scores: Record<string, number>;
  /** Stricter: the alert threshold also chosen on the other groups (each fold's held-out detections at it). */
  scoresTrainedThreshold: Record<string, number>;
  folds: { heldOut: string; chosen: Tuned; threshold: Record<string, number>; trainScore: Record<string, number>; heldOutScore: Record<string, number | null> }[];
  /** The whole-corpus score of every combination (standard), to show the neighbourhood. */
  grid: { constants: Tuned; standard: number; lowFp: number; lowFn: number }[];
}

/**
 * Leave one group out: for each group, the tuned constants are chosen on the other groups (best
 * normalised score, per profile), and the held-out group is run with them. The held-out results
 * of every fold are pooled into one result set and scored with NAB's rules, so a constant that
 * only fits one group shows as a lower number here than on the whole corpus. The stricter figure
 * also takes the alert threshold from the other groups.
 */
export function leaveOneGroupOut(corpus: NabSeries[], labelled: ScoredFile[], cfg: SpikeConfig, log: (m: string) => void = () => {}): LogoResult {
  const combos: Tuned[] = [];
  for (const sensitivity of TUNED.sensitivity) for (const noiseMemory of TUNED.noiseMemory) for (const memory of TUNED.memory) combos.push({ sensitivity, noiseMemory, memory });
  const base = nabParams(cfg);
  const runs = combos.map((c, k) => {
    log(`leave-one-group-out: constants ${k + 1} of ${combos.length} ${JSON.stringify(c)}`);
    const params = { ...base, ...c };
    return labelled.map((f, i) => ({ ...f, scores: detect(params, corpus[i]) }));
  });
  const groups = [...new Set(labelled.map((f) => groupOf(f.name)))].sort();
  const profiles = Object.keys(PROFILES);
  const pooled: Record<string, ScoredFile[]> = Object.fromEntries(profiles.map((p) => [p, []]));
  const pooledAtThreshold: Record<string, ScoredFile[]> = Object.fromEntries(profiles.map((p) => [p, []]));
  const folds: LogoResult['folds'] = [];
  for (const g of groups) {
    const fold: LogoResult['folds'][number] = { heldOut: g, chosen: combos[0], threshold: {}, trainScore: {}, heldOutScore: {} };
    // One scoring of the training groups per combination gives every profile.
    const trained = runs.map((files) => nabScores(files.filter((f) => groupOf(f.name) !== g)));
    for (const p of profiles) {
      let best = 0;
      trained.forEach((r, k) => {
        if (r[p].normalised > trained[best][p].normalised) best = k;
      });
      const threshold = trained[best][p].threshold;
      const raw = runs[best].filter((f) => groupOf(f.name) === g);
      pooled[p].push(...raw);
      pooledAtThreshold[p].push(...at(raw, threshold));
      if (p === 'standard') fold.chosen = combos[best];
      fold.threshold[p] = threshold;
      fold.trainScore[p] = trained[best][p].normalised;
      fold.heldOutScore[p] = windowsIn(raw) ? scoreAtThreshold(raw, p, threshold).normalised : null;
    }
    folds.push(fold);
  }
  const grid = runs.map((files, k) => {
    const r = nabScores(files);
    return { constants: combos[k], standard: r.standard.normalised, lowFp: r.reward_low_FP_rate.normalised, lowFn: r.reward_low_FN_rate.normalised };
  });
  // The stricter figure: each fold's detections at its own trained threshold, scored as they are.
  const scoresTrainedThreshold = Object.fromEntries(profiles.map((p) => [p, scoreAtThreshold(pooledAtThreshold[p], p, 1).normalised]));
  return { tuned: TUNED, combinations: combos.length, scores: Object.fromEntries(profiles.map((p) => [p, nabScores(pooled[p])[p].normalised])), scoresTrainedThreshold, folds, grid };
}

export interface Variation {
  constant: string;
  value: number | boolean;
  standard: number;
  lowFp: number;
  lowFn: number;
}

/**
 * One constant moved at a time from the `nab` profile, the rest kept: how much the score moves
 * when each moves (`jlpipe nab --vary memory=0.0003,0.0005,0.001`).
 */
export function vary(corpus: NabSeries[], labelled: ScoredFile[], cfg: SpikeConfig, constant: string, values: (number | boolean)[], log: (m: string) => void = () => {}): Variation[] {
  const base = nabParams(cfg);
  if (!(constant in base)) throw new Error(`--vary: no constant ${constant}; known: ${Object.keys(base).join(', ')}`);
  return values.map((value) => {
    log(`vary ${constant}=${value}`);
    const params = { ...base, [constant]: value };
    const r = nabScores(labelled.map((f, i) => ({ ...f, scores: detect(params, corpus[i]) })));
    return { constant, value, standard: r.standard.normalised, lowFp: r.reward_low_FP_rate.normalised, lowFn: r.reward_low_FN_rate.normalised };
  });
}
