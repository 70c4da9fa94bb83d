import type { SpikeConfig } from './config.js';

/** Slots of one series' state in a Float64Array (compact: 100,000 devices must fit in memory). */
const N = 0, LEVEL = 1, TREND = 2, DEV = 3, UP = 4, DOWN = 5, SLOTS = 6;
/** E|x - mu| = sigma * sqrt(2 / pi) for Gaussian noise. */
const MAD_TO_SIGMA = Math.sqrt(Math.PI / 2);

export type Verdict = { kind: 'spike' | 'level_shift'; z: number } | undefined;

/**
 * Streaming spike and level-shift scoring of one series, O(1) time and memory per point:
 * Holt's level + trend forecasts the next value (so a daily cycle causes no lag), the noise
 * scale is the smoothed absolute residual, a spike is one residual above `spikeZ` scales, a level
 * shift is a two-sided CUSUM of residuals above `shiftH`. Residuals are clipped before they update
 * the baseline, so a spike does not drag it; after a level shift the baseline restarts at the new
 * level. Used by the pipeline processor and, unchanged, by `jlpipe nab`.
 */
export class SeriesScorer {
  static readonly SLOTS = SLOTS;
  constructor(private readonly cfg: Pick<SpikeConfig, 'alpha' | 'beta' | 'devAlpha' | 'warmup' | 'spikeZ' | 'shiftK' | 'shiftH' | 'clipZ'>) {}

  /** A fresh state for one series. */
  static state(): Float64Array {
    return new Float64Array(SLOTS);
  }

  /**
   * Scores `x` against the state at offset `o` of `s`, then updates the state. Returns the
   * residual in noise units (0 during warm-up) and what it amounts to.
   */
  score(s: Float64Array, o: number, x: number): { z: number; cusum: number; verdict: Verdict } {
    const c = this.cfg;
    const n = s[o + N];
    if (n === 0) {
      s[o + N] = 1;
      s[o + LEVEL] = x;
      s[o + DEV] = 0;
      return { z: 0, cusum: 0, verdict: undefined };
    }
    const forecast = s[o + LEVEL] + s[o + TREND];
    const r = x - forecast;
    // Floor the scale: quantised or constant series must not divide by zero.
    const sigma = Math.max(s[o + DEV] * MAD_TO_SIGMA, 1e-6 * Math.abs(forecast), 1e-9);
    const z = r / sigma;
    let verdict: Verdict;
    let cusum = 0;
    const scored = n >= c.warmup;
    if (scored) {
      // One wild reading adds at most spikeZ: a spike alone never makes a level shift.
      const zc = Math.max(-c.spikeZ, Math.min(c.spikeZ, z));
      s[o + UP] = Math.max(0, s[o + UP] + zc - c.shiftK);
      s[o + DOWN] = Math.max(0, s[o + DOWN] - zc - c.shiftK);
      cusum = Math.max(s[o + UP], s[o + DOWN]);
      if (cusum > c.shiftH) verdict = { kind: 'level_shift', z };
      else if (Math.abs(z) > c.spikeZ) verdict = { kind: 'spike', z };
    }
    if (verdict?.kind === 'level_shift') {
      // Restart at the new level, keeping the noise scale.
      s[o + LEVEL] = x;
      s[o + TREND] = 0;
      s[o + UP] = 0;
      s[o + DOWN] = 0;
    } else {
      const clip = scored ? c.clipZ * sigma : Infinity;
      const xu = forecast + Math.max(-clip, Math.min(clip, r));
      const level = c.alpha * xu + (1 - c.alpha) * forecast;
      s[o + TREND] = c.beta * (level - s[o + LEVEL]) + (1 - c.beta) * s[o + TREND];
      s[o + LEVEL] = level;
      const absR = Math.min(Math.abs(r), clip);
      // A plain mean of |residual| until devAlpha takes over: the scale is right after warm-up.
      const w = Math.max(c.devAlpha, 1 / n);
      s[o + DEV] = w * absR + (1 - w) * s[o + DEV];
    }
    s[o + N] = n + 1;
    return { z: scored ? z : 0, cusum, verdict };
  }
}
