/**
 * NAB scoring (Lavin and Ahmad 2015; numenta/NAB `nab/scorer.py`, `nab/sweeper.py`), written from
 * the published rules: the first 15 % of each file (at most 750 rows) is probationary and not
 * scored; inside a labelled window only the earliest detection counts, weighted by a scaled sigmoid
 * of its position divided by the sigmoid's maximum (1 at the window start, 0 at its end); a detection outside every window is a
 * false positive weighted by how far it falls after the previous window (-1 before any window or
 * well after); a window with no detection costs A_FN. The threshold is swept over all scores and
 * the best total is kept (per profile), and normalised against the null and perfect detectors.
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
  /** Window index for a point inside a window, else -1. */
  window: number;
  /** Unweighted sigmoid value: > 0 inside a window, < 0 outside. */
  value: number;
}

/** Scorable points of one file (probationary rows dropped). */
function points(f: ScoredFile): Point[] {
  const out: Point[] = [];
  const prob = probationaryRows(f.scores.length);
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
    let value: number;
    if (inWin) {
      const [start, end] = f.windows[w];
      // Divided by the sigmoid's maximum, as NAB's sweeper does: a detection at a window's
      // first row earns exactly A_TP.
      value = scaledSigmoid(-(end - i + 1) / (end - start + 1)) / MAX_TP;
    } else if (prevEnd < 0) value = -1;
    else value = scaledSigmoid(Math.abs(prevEnd - i) / Math.max(1, prevWidth - 1));
    if (i >= prob) out.push({ score: f.scores[i], window: inWin ? w : -1, value });
  }
  return out;
}

export interface SweepResult {
  threshold: number;
  score: number;
  tp: number;
  fp: number;
  fn: number;
}

/**
 * The best raw score over all thresholds (a detection is a score >= threshold), corpus-wide.
 * Exhaustive sweep from the highest score down: O(n log n).
 */
export function sweep(files: ScoredFile[], p: Profile): SweepResult {
  const all: { score: number; file: number; window: number; value: number }[] = [];
  let windows = 0;
  const offsets: number[] = [];
  files.forEach((f, fi) => {
    offsets.push(windows);
    windows += f.windows.length;
    for (const pt of points(f)) all.push({ ...pt, file: fi });
  });
  all.sort((a, b) => b.score - a.score);
  const best = new Float64Array(windows).fill(-Infinity);
  let tpSum = 0;
  let tpCount = 0;
  let fpSum = 0;
  let fpCount = 0;
  let result: SweepResult = { threshold: Infinity, score: -p.fn * windows, tp: 0, fp: 0, fn: windows };
  for (let i = 0; i < all.length; i++) {
    const a = all[i];
    if (a.window >= 0) {
      const k = offsets[a.file] + a.window;
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
    const score = p.tp * tpSum + p.fp * fpSum - p.fn * (windows - tpCount);
    if (score > result.score) result = { threshold: a.score, score, tp: tpCount, fp: fpCount, fn: windows - tpCount };
  }
  return result;
}

/** Raw score of fixed detections (no sweep): for the null and perfect detectors. */
export function fixedScore(files: ScoredFile[], p: Profile): number {
  return sweep(files.map((f) => ({ ...f, scores: f.scores.map((s) => (s >= 1 ? 1 : 0)) })), p).score;
}

/** NAB-normalised scores per profile: 100 * (S - S_null) / (S_perfect - S_null). */
export function nabScores(files: ScoredFile[]): Record<string, SweepResult & { normalised: number; null: number; perfect: number }> {
  const out: Record<string, SweepResult & { normalised: number; null: number; perfect: number }> = {};
  for (const [name, p] of Object.entries(PROFILES)) {
    const nullScore = -p.fn * files.reduce((n, f) => n + f.windows.length, 0);
    // The perfect detector: one detection at the first row of every window.
    const perfect = fixedScore(files.map((f) => ({ ...f, scores: f.scores.map((_, i) => (f.windows.some(([s]) => s === i) ? 1 : 0)) })), p);
    const r = sweep(files, p);
    out[name] = { ...r, null: nullScore, perfect, normalised: (100 * (r.score - nullScore)) / (perfect - nullScore) };
  }
  return out;
}
