/**
 * NAB scoring (Lavin and Ahmad 2015; numenta/NAB `nab/scorer.py`, `nab/sweeper.py`), written from
 * the published rules: the first 15 % of each file (at most 750 rows) is probationary and not
 * scored; inside a labelled window only the earliest detection counts, weighted by a scaled sigmoid
 * of its position divided by the sigmoid's maximum (1 at the window start, 0 at its end); a detection outside every window is a
 * false positive weighted by how far it falls after the previous window (-1 before any window or
 * well after); a window with no detection costs A_FN. The threshold is swept over all scores and
 * the best total is kept (per profile), and normalised against the null and perfect detectors.
 *
 * NAB's edge rules, kept: a window with no row after the probation is not scored at all (no A_FN,
 * for the detector or the null detector), yet the perfect score is A_TP times every labelled
 * window (NAB's `runner.normalize`: tpCount * tpWeight). No window of the NAB corpus falls in a
 * probation, so this only matters on other label sets.
 */

export interface Profile {
  tp: number;
  fp: number;
  fn: number;
}
export const PROFILES: Record<string, Profile> = {
  standard: { tp: 1, fp: 0.11, fn: 1 },
  reward_low_FP_rate: { tp: 1, fp: 0.22, fn: 1 },
  reward_low_FN_rate: { tp: 1, fp: 0.11, fn: 2 },
};

/** One file's detector output: a score per row, and the row indices of its windows (inclusive). */
export interface ScoredFile {
  name: string;
  scores: number[];
  windows: [number, number][];
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** NAB's scaled sigmoid: positions in [-1, 0] inside a window, > 0 after it. */
export const scaledSigmoid = (pos: number) => (pos > 3 ? -1 : 2 * sigmoid(-5 * pos) - 1);

/** The largest true-positive weight, at a window's first row: scaledSigmoid(-1) = 0.98661. */
const MAX_TP = scaledSigmoid(-1);

export const probationaryRows = (rows: number) => Math.min(Math.floor(0.15 * rows), 750);

interface Point {
  score: number;
  /** Corpus-wide window index for a point inside a window, else -1. */
  window: number;
  /** Unweighted sigmoid value: > 0 inside a window (1 at its first row), < 0 outside. */
  value: number;
}

/** The scorable points of a set of files (probationary rows dropped), and its windows. */
interface Prepared {
  points: Point[];
  /** Every labelled window. */
  windows: number;
  /** Windows with at least one row after the probation: the ones a miss costs A_FN for. */
  scorable: number;
}

function prepare(files: ScoredFile[]): Prepared {
  const points: Point[] = [];
  let windows = 0;
  let scorable = 0;
  for (const f of files) {
    const prob = probationaryRows(f.scores.length);
    const seen = new Uint8Array(f.windows.length);
    let prevEnd = -1;
    let prevWidth = 0;
    let w = 0;
    for (let i = 0; i < f.scores.length; i++) {
      while (w < f.windows.length && f.windows[w][1] < i) {
        prevEnd = f.windows[w][1];
        prevWidth = f.windows[w][1] - f.windows[w][0] + 1;
        w++;
      }
      const inWin = w < f.windows.length && i >= f.windows[w][0] && i <= f.windows[w][1];
      if (i < prob) continue;
      let value: number;
      if (inWin) {
        const [start, end] = f.windows[w];
        // Divided by the sigmoid's maximum, as NAB's sweeper does: a detection at a window's
        // first row earns exactly A_TP.
        value = scaledSigmoid(-(end - i + 1) / (end - start + 1)) / MAX_TP;
        seen[w] = 1;
      } else if (prevEnd < 0) value = -1;
      else value = scaledSigmoid(Math.abs(prevEnd - i) / Math.max(1, prevWidth - 1));
      points.push({ score: f.scores[i], window: inWin ? windows + w : -1, value });
    }
    windows += f.windows.length;
    scorable += seen.reduce((n, x) => n + x, 0);
  }
  // Highest score first, for the sweep.
  points.sort((a, b) => b.score - a.score);
  return { points, windows, scorable };
}

export interface SweepResult {
  threshold: number;
  score: number;
  tp: number;
  fp: number;
  fn: number;
}

/** NAB's normalised score beside the raw one: 100 * (S - S_null) / (S_perfect - S_null). */
export type NabResult = SweepResult & { normalised: number; null: number; perfect: number };

/**
 * The best raw score over all thresholds (a detection is a score >= threshold), corpus-wide.
 * Exhaustive sweep from the highest score down: O(n log n).
 */
export function sweep(files: ScoredFile[], p: Profile): SweepResult {
  return sweepPrepared(prepare(files), p);
}

function sweepPrepared({ points: all, windows, scorable }: Prepared, p: Profile): SweepResult {
  const best = new Float64Array(windows).fill(-Infinity);
  let tpSum = 0;
  let tpCount = 0;
  let fpSum = 0;
  let fpCount = 0;
  let result: SweepResult = { threshold: Infinity, score: 0 - p.fn * scorable, tp: 0, fp: 0, fn: scorable };
  for (let i = 0; i < all.length; i++) {
    const a = all[i];
    if (a.window >= 0) {
      const k = a.window;
      if (best[k] === -Infinity) {
        tpCount++;
        best[k] = a.value;
        tpSum += a.value;
      } else if (a.value > best[k]) {
        tpSum += a.value - best[k];
        best[k] = a.value;
      }
    } else {
      fpCount++;
      fpSum += a.value;
    }
    // Evaluate only where the threshold can sit: between distinct scores.
    if (i + 1 < all.length && all[i + 1].score === a.score) continue;
    const score = p.tp * tpSum + p.fp * fpSum - p.fn * (scorable - tpCount);
    if (score > result.score) result = { threshold: a.score, score, tp: tpCount, fp: fpCount, fn: scorable - tpCount };
  }
  return result;
}

/** The raw score of the detections at one threshold (score >= threshold), no sweep. */
function rawAt(prep: Prepared, p: Profile, threshold: number): SweepResult {
  // Only the best (earliest) detection in a window counts.
  const best = new Float64Array(prep.windows).fill(-Infinity);
  let fp = 0;
  let fpSum = 0;
  for (const a of prep.points) {
    if (!(a.score >= threshold)) continue;
    if (a.window >= 0) best[a.window] = Math.max(best[a.window], a.value);
    else {
      fp++;
      fpSum += a.value;
    }
  }
  let tp = 0;
  let tpSum = 0;
  for (const b of best)
    if (b !== -Infinity) {
      tp++;
      tpSum += b;
    }
  return { threshold, score: p.tp * tpSum + p.fp * fpSum - p.fn * (prep.scorable - tp), tp, fp, fn: prep.scorable - tp };
}

/** Raw score of fixed detections (scores >= 1 are detections, no sweep). */
export function fixedScore(files: ScoredFile[], p: Profile): number {
  return rawAt(prepare(files), p, 1).score;
}

function normalise(r: SweepResult, prep: Prepared, p: Profile): NabResult {
  // NAB's null detector (a constant score) is best at a threshold above it: nothing detected.
  const nullScore = 0 - p.fn * prep.scorable; // 0, not -0, without windows
  // NAB's perfect score: A_TP for every labelled window.
  const perfect = p.tp * prep.windows;
  return { ...r, null: nullScore, perfect, normalised: (100 * (r.score - nullScore)) / (perfect - nullScore) };
}

/** NAB-normalised scores per profile, each at the threshold the sweep finds best for it. */
export function nabScores(files: ScoredFile[]): Record<string, NabResult> {
  const prep = prepare(files);
  return Object.fromEntries(Object.entries(PROFILES).map(([name, p]) => [name, normalise(sweepPrepared(prep, p), prep, p)]));
}

/**
 * The NAB-normalised score of one profile at a fixed threshold (a detection is a score >=
 * threshold; no sweep): e.g. the held-out group at the threshold chosen on the other groups. The
 * score may be below 0 (worse than detecting nothing). Without windows `normalised` is NaN.
 */
export function scoreAtThreshold(files: ScoredFile[], profile: string, threshold: number): NabResult {
  const p = PROFILES[profile];
  if (!p) throw new Error(`no NAB profile ${profile}; known: ${Object.keys(PROFILES).join(', ')}`);
  const prep = prepare(files);
  return normalise(rawAt(prep, p, threshold), prep, p);
}

/** A file's group: the folder part of its name (`realTraffic/speed_6005.csv` -> `realTraffic`). */
export const groupOf = (name: string) => (name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '');

export interface GroupNabScores {
  group: string;
  files: number;
  windows: number;
  /** Per profile; `normalised` is null for a group without windows (nothing to normalise against). */
  profiles: Record<string, Omit<NabResult, 'normalised'> & { normalised: number | null }>;
}

/**
 * Each group (in name order) scored alone: at `thresholds[profile]` when given (e.g. the
 * corpus-wide thresholds of `nabScores`, or those chosen on the other groups), else at the
 * group's own best threshold (its own sweep).
 */
export function groupNabScores(files: ScoredFile[], thresholds?: Record<string, number>): GroupNabScores[] {
  const groups = [...new Set(files.map((f) => groupOf(f.name)))].sort();
  return groups.map((group) => {
    const mine = files.filter((f) => groupOf(f.name) === group);
    const windows = mine.reduce((n, f) => n + f.windows.length, 0);
    const swept = thresholds ? undefined : nabScores(mine);
    const profiles = Object.fromEntries(
      Object.keys(PROFILES).map((name) => {
        const r = swept ? swept[name] : scoreAtThreshold(mine, name, thresholds![name]);
        return [name, { ...r, normalised: windows ? r.normalised : null }];
      }),
    );
    return { group, files: mine.length, windows, profiles };
  });
}
