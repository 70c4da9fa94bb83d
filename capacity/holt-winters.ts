/**
 * Additive Holt-Winters (level, trend, season) fitted by least squares of the one-step-ahead
 * errors over a small parameter grid. With fewer than two seasons of history it falls back to
 * Holt's linear trend (no season). The forecast is closed-form, so a horizon of millions of
 * steps costs nothing until it is evaluated.
 */
export interface HoltWinters {
  alpha: number;
  beta: number;
  gamma: number;
  /** Season length in steps; 0 when there is no season. */
  period: number;
  level: number;
  trend: number;
  /** Seasonal offsets, indexed by (step number mod period). */
  season: number[];
  /** Number of observations fitted. */
  n: number;
  /** Root mean square of the one-step errors. */
  rmse: number;
}

const ALPHAS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9];
const BETAS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2];
const GAMMAS = [0.02, 0.05, 0.1, 0.2, 0.4];

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Runs the recursions once; returns the final state and the one-step squared error sum. */
function run(y: number[], period: number, alpha: number, beta: number, gamma: number): Omit<HoltWinters, 'rmse'> & { sse: number } {
  const p = period;
  let level: number;
  let trend: number;
  const season = new Array<number>(Math.max(p, 1)).fill(0);
  let start: number;
  if (p) {
    const first = mean(y.slice(0, p));
    const second = mean(y.slice(p, 2 * p));
    trend = (second - first) / p;
    level = first + ((p - 1) / 2) * trend; // the level at step p - 1
    for (let i = 0; i < p; i++) season[i] = y[i] - (first + (i - (p - 1) / 2) * trend);
    start = p;
  } else {
    level = y[0];
    trend = y.length > 1 ? (y[Math.min(y.length - 1, 3)] - y[0]) / Math.min(y.length - 1, 3) : 0;
    start = 1;
  }
  let sse = 0;
  for (let t = start; t < y.length; t++) {
    const s = p ? season[t % p] : 0;
    const err = y[t] - (level + trend + s);
    sse += err * err;
    const prevLevel = level;
    level = alpha * (y[t] - s) + (1 - alpha) * (level + trend);
    trend = beta * (level - prevLevel) + (1 - beta) * trend;
    if (p) season[t % p] = gamma * (y[t] - level) + (1 - gamma) * s;
  }
  return { alpha, beta, gamma, period: p, level, trend, season: p ? season : [], n: y.length, sse };
}

/** Fits the model; `period` is used only when the history holds at least two seasons. */
export function fitHoltWinters(y: number[], period: number): HoltWinters {
  if (!y.length) return { alpha: 0, beta: 0, gamma: 0, period: 0, level: 0, trend: 0, season: [], n: 0, rmse: 0 };
  const p = period > 1 && y.length >= 2 * period ? period : 0;
  let best: ReturnType<typeof run> | undefined;
  for (const a of ALPHAS) for (const b of BETAS) for (const g of p ? GAMMAS : [0]) {
    const m = run(y, p, a, b, g);
    if (!best || m.sse < best.sse) best = m;
  }
  const { sse, ...model } = best!;
  return { ...model, rmse: Math.sqrt(sse / Math.max(1, y.length - (p || 1))) };
}

/**
 * Variance of the k-step forecast error in units of rmse²: Holt's linear method's
 * 1 + (k - 1)(α² + αβk + β²k(2k - 1)/6) (Hyndman et al., Forecasting with Exponential Smoothing,
 * class 1). The season's own uncertainty is left out: a lower bound for Holt-Winters.
 */
export function forecastVarianceFactor(m: HoltWinters, k: number): number {
  const { alpha: a, beta: b } = m;
  return 1 + (k - 1) * (a * a + a * b * k + (b * b * k * (2 * k - 1)) / 6);
}

/** The forecast `k` steps after the last observation (k >= 1), never below zero. */
export function forecastAt(m: HoltWinters, k: number): number {
  const s = m.period ? m.season[(m.n - 1 + k) % m.period] : 0;
  return Math.max(0, m.level + k * m.trend + s);
}

/**
 * The sum of `forecastAt(m, k)` for k = from..to, exact (clamping included) in O(period) time
 * whatever the span: the steps of one season phase form a line, summed in closed form.
 */
export function forecastSum(m: HoltWinters, from: number, to: number): number {
  const p = m.period || 1;
  let total = 0;
  for (let j = from; j < from + p && j <= to; j++) {
    const s = m.period ? m.season[(m.n - 1 + j) % m.period] : 0;
    total += positiveSum(m.level + j * m.trend + s, m.trend * p, Math.floor((to - j) / p) + 1);
  }
  return total;
}

/** Σ max(0, c + d·i) for i = 0..count-1. */
function positiveSum(c: number, d: number, count: number): number {
  let lo = 0;
  let hi = count - 1;
  if (d === 0) return c > 0 ? c * count : 0;
  if (d > 0 && c <= 0) lo = Math.floor(-c / d) + 1;
  if (d < 0) hi = c <= 0 ? -1 : Math.min(hi, Math.ceil(c / -d) - 1);
  const n = hi - lo + 1;
  return n > 0 ? n * c + (d * (lo + hi) * n) / 2 : 0;
}
