/**
 * Anomaly likelihood (after Numenta's): a raw score in [0, 1] is averaged over the last few points
 * and compared with a Gaussian fitted, exponentially weighted, to the series' own history of such
 * averages; the upper tail gives how unusual the current average is for this series. A "red
 * zone" filter keeps one alert per event: when this tail and the previous one are both tiny, the
 * later one is reported as merely yellow. State lives in a Float32Array slice (`likelihoodSize`).
 */

/** Upper tail P(Z > z) of the standard normal (Numerical Recipes' erfc, relative error < 1.2e-7). */
export function normalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc = t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return z >= 0 ? 0.5 * erfc : 1 - 0.5 * erfc;
}

// One block: the running figures, then the ring of the last `averageOf` raw scores.
const SUM = 0, SEEN = 1, FITTED = 2, MEAN = 3, VAR = 4, PREV = 5, RING = 6;
/** Floats of one likelihood block. */
export const likelihoodSize = (averageOf: number) => RING + averageOf;

/** A tail at or below this is red: the score is 0.5 (log(1e-5) / log(1e-10)). */
const RED = 1e-5;
const YELLOW = 1e-3;
/**
 * Floors of the fitted Gaussian, so a series that was always calm does not alarm on noise. The
 * variance floor is ours (HTM's is 3e-4): our raw score of Gaussian noise (|z| / 6) has a standard
 * deviation of 0.1, and the floor is half of that, so a perfectly regular series stays calm when
 * it first wobbles by a noise unit.
 */
const MIN_MEAN = 0.03;
const MIN_VAR = 2.5e-3;

export interface LikelihoodParams {
  /** Raw scores in the moving average: 1 judges each point alone, more judges runs of points. */
  averageOf: number;
  /** Averages seen before the Gaussian is fitted (the raw scores are settling). */
  fitFrom: number;
  /** Points before a likelihood is reported at all. */
  reportFrom: number;
  /** Smallest weight of a new average in the fit: 1 / memory in points (tuned). */
  memory: number;
}

/** Scores `raw` into the block at `o`; returns the tail (1 = ordinary, tiny = unusual) after the red-zone filter. */
export function likelihoodTail(s: Float32Array, o: number, raw: number, p: LikelihoodParams): number {
  const k = p.averageOf;
  // Float32 counts exactly to 2^24: wrap by a multiple of the ring, keeping the ring's order.
  const seen = (s[o + SEEN] >= 1e7 ? s[o + SEEN] - k * 1e6 : s[o + SEEN]) + 1;
  const slot = o + RING + ((seen - 1) % k);
  const sum = s[o + SUM] + raw - s[slot];
  s[slot] = raw;
  s[o + SUM] = sum;
  s[o + SEEN] = seen;
  const avg = Math.max(0, sum) / Math.min(seen, k);
  let tail = 1;
  const fitted = s[o + FITTED];
  if (fitted > 0) tail = normalTail((avg - Math.max(s[o + MEAN], MIN_MEAN)) / Math.sqrt(Math.max(s[o + VAR], MIN_VAR)));
  let reported = seen >= p.reportFrom && fitted > 0 ? tail : 1;
  if (reported <= RED && s[o + PREV] <= RED) reported = YELLOW;
  s[o + PREV] = tail;
  if (seen >= p.fitFrom) {
    const n = fitted + 1;
    const w = Math.max(p.memory, 1 / n);
    const d = avg - s[o + MEAN];
    s[o + MEAN] += w * d;
    s[o + VAR] = (1 - w) * (s[o + VAR] + w * d * d);
    s[o + FITTED] = Math.min(n, 1e7);
  }
  return reported;
}

/**
 * A tail as a strength: log(tail) / log(1e-10), so 0.5 is a tail of 1e-5 and 1 of 1e-10. Not
 * capped at 1: a pipeline watching many series alerts far out in the tail (1.5 is 1e-15).
 */
export const tailStrength = (tail: number) => Math.log10(Math.max(tail, 1e-300)) / -10;
