import { regionCapacity, type CapacityConfig } from './config.js';
import { fitHoltWinters, forecastAt, forecastSum, forecastVarianceFactor, type HoltWinters } from './holt-winters.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** The longest horizon planned. Further out the forecast means nothing, and a bound keeps a request from asking for years of work. */
export const MAX_HORIZON_DAYS = 3650;
export const MAX_HORIZON_MS = MAX_HORIZON_DAYS * DAY;
/** Points kept per curve for charts and the dashboard. */
const CURVE_POINTS = 200;

/** One bucket of `pipeline_stats`, summed over instances. */
export interface StatsBucket {
  /** Bucket start, ms. */
  t: number;
  region: string;
  sector: string;
  code: string;
  messages: number;
  points: number;
  fieldValues: number;
  /** Series written by the resource in the region (the newest count in the bucket). */
  series: number;
  cpuMs: number;
}

export interface CapacityHistory {
  bucketMs: number;
  /** When the history was read; a bucket not yet over by then is incomplete and left out. */
  now: number;
  buckets: StatsBucket[];
  /** Field values stored so far per region (within the retention, if any). */
  storedValues: Record<string, number>;
}

/** What the planner needs of a catalogue resource. */
export interface ResourceInfo {
  code: string;
  measurement: string;
  sector: string;
  cardinalityBudget: number;
}

export type MetricName = 'write_rate' | 'storage' | 'compute' | 'series';
export const METRIC_UNITS: Record<MetricName, string> = { write_rate: 'points/s', storage: 'bytes', compute: 'cores', series: 'series' };

export interface MetricPlan {
  metric: MetricName;
  unit: string;
  /** Now: the mean over the last season (or last day) for rates, the total for storage and series. */
  current: number;
  /** Forecast at the end of the horizon, and the highest forecast value within it. */
  atHorizon: number;
  /** Prediction interval of the forecast at the horizon (coverage `level`), from the model's one-step error. */
  interval: { level: number; low: number; high: number };
  peak: number;
  /** The configured limit times the target utilisation (the budget itself for series). */
  limit: number;
  /** First time the forecast crosses the limit within the horizon; null if it never does. */
  exhaustedAt: number | null;
  daysLeft: number | null;
  model: { alpha: number; beta: number; gamma: number; period: number; rmse: number };
  /** [time ms, value] of the history and then the forecast, for charts. */
  actual: [number, number][];
  forecast: [number, number][];
}

export interface SectorPlan {
  sector: string;
  current: number;
  atHorizon: number;
  peak: number;
  /** Share of the region's write rate at the horizon. */
  share: number;
  forecast: [number, number][];
}

/** Sized for the Kafka topology (SPEC 8): gateways and workers, and partitions of jl.readings. */
export interface Recommendation {
  /** Worker instances (the consumer group on jl.readings). */
  instances: number;
  /** Gateway instances (behind the shared MQTT subscription). */
  gateways: number;
  /** Partitions of jl.readings (and jl.state): at least the workers, with headroom. */
  partitions: number;
  storageBytes: number;
  cpuCores: number;
  actions: string[];
}

export interface RegionPlan {
  region: string;
  capacity: { storageBytes: number; writePointsPerSec: number; cpuCores: number };
  metrics: MetricPlan[];
  sectors: SectorPlan[];
  recommendation: Recommendation;
}

export interface ResourcePlan extends MetricPlan {
  code: string;
  measurement: string;
  sector: string;
  budget: number;
  overBudgetNow: boolean;
}

export interface CapacityPlan {
  generatedAt: number;
  /** False while the history is shorter than `capacity.minHistoryHours`: no forecast, no recommendation. */
  enoughHistory: boolean;
  /** The history the planner needs (ms), and what it had. */
  minHistoryMs: number;
  historyMs: number;
  horizonMs: number;
  bucketMs: number;
  historyFrom: number | null;
  historyTo: number | null;
  regions: RegionPlan[];
  resources: ResourcePlan[];
}

/** Season length in buckets: weekly with two weeks of history, else daily with two days, else none. */
export function seasonOf(bucketMs: number, spanMs: number): number {
  if (spanMs >= 2 * WEEK && WEEK / bucketMs <= 2000) return Math.round(WEEK / bucketMs);
  if (spanMs >= 2 * DAY) return Math.round(DAY / bucketMs);
  return 0;
}

/** Two-sided standard normal quantiles of the interval levels the config allows. */
const Z: Record<number, number> = { 0.8: 1.2816, 0.9: 1.6449, 0.95: 1.96, 0.99: 2.5758 };

/** Sum of forecastVarianceFactor(m, j) for j = lo..hi, closed form (a cubic in j). */
function varianceFactorSum(m: HoltWinters, lo: number, hi: number): number {
  if (hi < lo) return 0;
  const A = m.alpha * m.alpha, B = m.alpha * m.beta, C = (m.beta * m.beta) / 6;
  // factor(j) = (1 - A) + (A - B + C) j + (B - 3C) j² + 2C j³
  const p1 = (n: number) => (n * (n + 1)) / 2;
  const p2 = (n: number) => (n * (n + 1) * (2 * n + 1)) / 6;
  const p3 = (n: number) => p1(n) ** 2;
  const range = (f: (n: number) => number) => f(hi) - f(lo - 1);
  return (1 - A) * (hi - lo + 1) + (A - B + C) * range(p1) + (B - 3 * C) * range(p2) + 2 * C * range(p3);
}

/** A regular series: one value per bucket from `from` to `to`, 0 where nothing was recorded. */
function regular(points: Map<number, number>, from: number, to: number, bucketMs: number): number[] {
  const out: number[] = [];
  for (let t = from; t <= to; t += bucketMs) out.push(points.get(t) ?? 0);
  return out;
}

/**
 * A metric's forecast `at(k)`, k buckets after the last one (1..steps), with the shape of each
 * piece of the horizon: `rising` (never falls), `phased` (monotone along every season phase
 * k, k + period, ...), `scan` (short: its values are listed). The shapes let the crossing and
 * the peak be found with a bounded number of evaluations, whatever the horizon.
 */
interface Path {
  at: (k: number) => number;
  period: number;
  pieces: ({ from: number; to: number; shape: 'rising' | 'phased' } | { from: number; to: number; shape: 'scan'; values: number[] })[];
}

/**
 * The path of one metric. Rates: the forecast itself (a line per phase, clamped at 0). Storage:
 * the running total, which never falls; with a retention of W buckets, after the history has
 * left the window (k >= W) it is a sum over the last W forecasts, which moves like the
 * forecast along each phase; the transition in between is no longer than the history.
 */
function pathOf(m: HoltWinters, y: number[], steps: number, accumulate?: { start: number; factor: number; windowBuckets: number | null }): Path {
  const period = Math.max(1, m.period);
  if (!accumulate) return { at: (k) => forecastAt(m, k), period, pieces: [{ from: 1, to: steps, shape: 'phased' }] };
  const { start, factor } = accumulate;
  const F = (k: number) => (k > 0 ? forecastSum(m, 1, k) : 0);
  const W = accumulate.windowBuckets;
  if (!W) return { at: (k) => start + factor * F(k), period, pieces: [{ from: 1, to: steps, shape: 'rising' }] };
  // The window holds the last L0 history buckets at first; `dropped` are those that left it.
  const window = y.slice(-W);
  const L0 = window.length;
  const prefix = [0];
  for (const v of window) prefix.push(prefix[prefix.length - 1] + v);
  const dropped = (k: number) => {
    const e = L0 + k - W;
    return e <= 0 ? 0 : e <= L0 ? prefix[e] : prefix[L0] + F(e - L0);
  };
  const at = (k: number) => start + factor * (F(k) - dropped(k));
  const pieces: Path['pieces'] = [];
  if (W - L0 >= 1) pieces.push({ from: 1, to: Math.min(steps, W - L0), shape: 'rising' });
  const from = Math.max(1, W - L0 + 1);
  const to = Math.min(steps, W - 1);
  if (from <= to) {
    const values: number[] = [];
    let sum = F(from - 1);
    for (let k = from; k <= to; k++) values.push(start + factor * ((sum += forecastAt(m, k)) - dropped(k)));
    pieces.push({ from, to, shape: 'scan', values });
  }
  if (W <= steps) pieces.push({ from: Math.max(1, W), to: steps, shape: 'phased' });
  return { at, period, pieces };
}

/** The first k at which the path exceeds `limit`, or null. */
function firstAbove(path: Path, limit: number): number | null {
  for (const piece of path.pieces) {
    if (piece.shape === 'scan') {
      const i = piece.values.findIndex((v) => v > limit);
      if (i >= 0) return piece.from + i;
      continue;
    }
    const step = piece.shape === 'rising' ? 1 : path.period;
    let best: number | null = null;
    for (let first = piece.from; first < piece.from + step && first <= piece.to; first++) {
      const k = firstAboveMonotone(path.at, first, piece.to, step, limit);
      if (k !== null && (best === null || k < best)) best = k;
    }
    if (best !== null) return best;
  }
  return null;
}

/** The first of first, first + step, ... <= to above `limit`, where `at` is monotone either way along them. */
function firstAboveMonotone(at: (k: number) => number, first: number, to: number, step: number, limit: number): number | null {
  if (at(first) > limit) return first;
  let hi = Math.floor((to - first) / step);
  if (!(at(first + hi * step) > limit)) return null;
  let lo = 0; // at(lo) <= limit < at(hi): the sequence rises in between
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(first + mid * step) > limit) hi = mid;
    else lo = mid;
  }
  return first + hi * step;
}

/** The highest value of the path (at least 0). */
function peakOf(path: Path): number {
  let peak = 0;
  for (const piece of path.pieces) {
    if (piece.shape === 'scan') for (const v of piece.values) peak = Math.max(peak, v);
    else if (piece.shape === 'rising') peak = Math.max(peak, path.at(piece.to));
    else
      for (let first = piece.from; first < piece.from + path.period && first <= piece.to; first++) {
        const last = first + Math.floor((piece.to - first) / path.period) * path.period;
        peak = Math.max(peak, path.at(first), path.at(last));
      }
  }
  return peak;
}

/**
 * Forecasts one metric. `accumulate` turns the per-bucket forecast into storage (a running
 * total, less what falls out of the retention window). Exhaustion is the first bucket over
 * `limit`. The cost depends on the history and the season, not on the horizon.
 */
function planMetric(
  metric: MetricName,
  y: number[],
  lastT: number,
  bucketMs: number,
  horizonMs: number,
  season: number,
  limit: number,
  level: number,
  accumulate?: { start: number; factor: number; windowBuckets: number | null },
): MetricPlan {
  const m: HoltWinters = fitHoltWinters(y, season);
  const steps = Math.max(1, Math.floor(horizonMs / bucketMs));
  const path = pathOf(m, y, steps, accumulate);
  // The interval at the horizon: a rate's k-step error; a total's, the sum of the forecasts
  // still in it (errors taken as independent, so a lower bound when they are not).
  const variance = accumulate
    ? accumulate.factor ** 2 * m.rmse ** 2 * varianceFactorSum(m, accumulate.windowBuckets ? Math.max(1, steps - accumulate.windowBuckets + 1) : 1, steps)
    : m.rmse ** 2 * forecastVarianceFactor(m, steps);
  const half = (Z[level] ?? Z[0.9]) * Math.sqrt(variance);
  const atHorizon = path.at(steps);
  const k = limit < Infinity ? firstAbove(path, limit) : null;
  // Curve points sit on a fixed grid, so the forecast written by one run overwrites the last
  // one; each is the value of the first bucket in its cell.
  const grid = curveGrid(horizonMs, bucketMs);
  const forecast: [number, number][] = [];
  for (let cell = Math.floor(lastT / grid) + 1; cell * grid <= lastT + steps * bucketMs; cell++) forecast.push([cell * grid, path.at(Math.ceil((cell * grid - lastT) / bucketMs))]);
  const actualStep = Math.max(1, Math.floor(y.length / CURVE_POINTS));
  const actual: [number, number][] = [];
  let running = (accumulate?.start ?? 0) - (accumulate ? y.reduce((a, b) => a + b, 0) * accumulate.factor : 0);
  y.forEach((v, i) => {
    running += accumulate ? v * accumulate.factor : 0;
    if (i % actualStep === 0 || i === y.length - 1) actual.push([lastT - (y.length - 1 - i) * bucketMs, accumulate ? Math.max(0, running) : v]);
  });
  const lastSeason = y.slice(-Math.max(1, season || Math.round(DAY / bucketMs)));
  const current = accumulate ? (accumulate.start ?? 0) : lastSeason.reduce((a, b) => a + b, 0) / lastSeason.length;
  const exhausted = k === null ? null : lastT + k * bucketMs;
  return {
    metric,
    unit: METRIC_UNITS[metric],
    current,
    atHorizon,
    interval: { level, low: Math.max(0, atHorizon - half), high: atHorizon + half },
    peak: Math.max(peakOf(path), current),
    limit,
    exhaustedAt: current > limit ? lastT : exhausted,
    daysLeft: current > limit ? 0 : exhausted === null ? null : (exhausted - lastT) / DAY,
    model: { alpha: m.alpha, beta: m.beta, gamma: m.gamma, period: m.period, rmse: m.rmse },
    actual,
    forecast,
  };
}

const NICE = [10_000, 60_000, 300_000, 900_000, HOUR, 6 * HOUR, DAY, WEEK];
/** The grid of chart points: a round duration (whole weeks past the list) giving at most CURVE_POINTS points. */
function curveGrid(horizonMs: number, bucketMs: number): number {
  return NICE.find((g) => g >= bucketMs && horizonMs / g <= CURVE_POINTS) ?? WEEK * Math.max(1, Math.ceil(horizonMs / (WEEK * CURVE_POINTS)), Math.ceil(bucketMs / WEEK));
}

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * The capacity plan (SPEC 7): per region the write rate, storage and compute forecasts against
 * the region's capacity, per sector its forecast, per catalogue resource its series against the
 * cardinality budget; and what to provision. Pure: history in, plan out. Throws a RangeError
 * for a horizon over MAX_HORIZON_DAYS.
 */
export function planCapacity(history: CapacityHistory, config: CapacityConfig, resources: ResourceInfo[], horizonMs: number): CapacityPlan {
  const steps = planSteps(history, config, resources, horizonMs);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The same plan, giving the event loop a turn after each region and resource, so a server
 * planning on request keeps answering (the work grows with the history, not the horizon).
 */
export async function planCapacityAsync(history: CapacityHistory, config: CapacityConfig, resources: ResourceInfo[], horizonMs: number): Promise<CapacityPlan> {
  const steps = planSteps(history, config, resources, horizonMs);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const groupBy = <K>(rows: StatsBucket[], key: (b: StatsBucket) => K) => {
  const m = new Map<K, StatsBucket[]>();
  for (const b of rows) {
    const g = m.get(key(b));
    if (g) g.push(b);
    else m.set(key(b), [b]);
  }
  return m;
};

/** planCapacity as steps: it yields between regions and resources. */
function* planSteps(history: CapacityHistory, config: CapacityConfig, resources: ResourceInfo[], horizonMs: number): Generator<void, CapacityPlan> {
  if (!(horizonMs >= 0 && horizonMs <= MAX_HORIZON_MS)) throw new RangeError(`horizon of ${horizonMs / DAY} days: at most ${MAX_HORIZON_DAYS} days`);
  const { bucketMs } = history;
  const complete = history.buckets.filter((b) => b.t + bucketMs <= history.now);
  // A loop, not Math.min(...times): weeks of buckets would overflow the argument list.
  let from: number | null = null;
  let to: number | null = null;
  for (const b of complete) {
    if (from === null || b.t < from) from = b.t;
    if (to === null || b.t > to) to = b.t;
  }
  const minHistoryMs = config.minHistoryHours * HOUR;
  const historyMs = from === null || to === null ? 0 : to + bucketMs - from;
  const plan: CapacityPlan = { generatedAt: history.now, enoughHistory: historyMs > 0 && historyMs >= minHistoryMs, minHistoryMs, historyMs, horizonMs, bucketMs, historyFrom: from, historyTo: to, regions: [], resources: [] };
  // Minutes of statistics say nothing about a year: no forecast, and no recommendation, until
  // the history is long enough.
  if (from === null || to === null || !plan.enoughHistory) return plan;
  yield;
  const level = config.intervalLevel;
  const season = seasonOf(bucketMs, to + bucketMs - from);
  const seconds = bucketMs / 1000;
  const target = config.targetUtilisation;

  const sum = (rows: StatsBucket[], f: (b: StatsBucket) => number) => {
    const m = new Map<number, number>();
    for (const b of rows) m.set(b.t, (m.get(b.t) ?? 0) + f(b));
    return m;
  };

  const byRegion = groupBy(complete, (b) => b.region);
  const byCode = groupBy(complete, (b) => b.code);
  for (const region of [...byRegion.keys()].sort()) {
    yield;
    const rows = byRegion.get(region)!;
    const cap = regionCapacity(config, region) ?? { storageBytes: Infinity, writePointsPerSec: Infinity, cpuCores: Infinity };
    const rate = regular(sum(rows, (b) => b.points / seconds), from, to, bucketMs);
    const values = regular(sum(rows, (b) => b.fieldValues), from, to, bucketMs);
    const cores = regular(sum(rows, (b) => b.cpuMs / bucketMs), from, to, bucketMs);
    const retention = config.retentionDays ? Math.round((config.retentionDays * DAY) / bucketMs) : null;
    const metrics = [
      planMetric('write_rate', rate, to, bucketMs, horizonMs, season, cap.writePointsPerSec * target, level),
      planMetric('storage', values, to, bucketMs, horizonMs, season, cap.storageBytes * target, level, {
        start: (history.storedValues[region] ?? values.reduce((a, b) => a + b, 0)) * config.bytesPerValue,
        factor: config.bytesPerValue,
        windowBuckets: retention,
      }),
      planMetric('compute', cores, to, bucketMs, horizonMs, season, cap.cpuCores * target, level),
    ];
    const sectors: SectorPlan[] = [];
    const bySector = groupBy(rows, (b) => b.sector);
    for (const sector of [...bySector.keys()].sort()) {
      const y = regular(sum(bySector.get(sector)!, (b) => b.points / seconds), from, to, bucketMs);
      const p = planMetric('write_rate', y, to, bucketMs, horizonMs, season, Infinity, level);
      sectors.push({ sector, current: p.current, atHorizon: p.atHorizon, peak: p.peak, share: 0, forecast: p.forecast });
    }
    const totalAtHorizon = sectors.reduce((a, s) => a + s.atHorizon, 0);
    for (const s of sectors) s.share = totalAtHorizon ? s.atHorizon / totalAtHorizon : 0;
    plan.regions.push({ region, capacity: cap, metrics, sectors, recommendation: recommend(metrics, config, cap) });
  }

  for (const r of resources) {
    const rows = byCode.get(r.code);
    if (!rows) continue;
    yield;
    // Series per resource: the newest count of each region in a bucket, summed over regions.
    const y = regular(sum(rows, (b) => b.series), from, to, bucketMs);
    const p = planMetric('series', y, to, bucketMs, horizonMs, 0, r.cardinalityBudget, level);
    const now = y[y.length - 1];
    plan.resources.push({ ...p, current: now, code: r.code, measurement: r.measurement, sector: r.sector, budget: r.cardinalityBudget, overBudgetNow: now > r.cardinalityBudget, exhaustedAt: now > r.cardinalityBudget ? to : p.exhaustedAt, daysLeft: now > r.cardinalityBudget ? 0 : p.daysLeft });
  }
  return plan;
}

/**
 * Workers, gateways, jl.readings partitions, storage and cores that carry the horizon's peak at
 * the target utilisation. Workers and gateways are both sized at `instanceMsgPerSec` (one
 * process's rate; each role does part of that work, so this errs on the safe side).
 */
function recommend(metrics: MetricPlan[], config: CapacityConfig, cap: RegionPlan['capacity']): Recommendation {
  const [rate, storage, compute] = metrics;
  const target = config.targetUtilisation;
  const instances = Math.max(1, Math.ceil(rate.peak / (config.instanceMsgPerSec * target)));
  const gateways = instances;
  // Twice the workers, rounded up to a power of two: workers can double without repartitioning
  // (adding partitions later moves devices away from their state in jl.state).
  const partitions = nextPow2(2 * instances);
  const storageBytes = storage.atHorizon / target;
  const cpuCores = Math.ceil((compute.peak / target) * 10) / 10;
  const actions: string[] = [];
  const when = (m: MetricPlan) => (m.exhaustedAt === null ? '' : ` by ${new Date(m.exhaustedAt).toISOString().slice(0, 10)}`);
  if (rate.exhaustedAt !== null) actions.push(`write rate: InfluxDB in this region needs ${Math.ceil(rate.peak / target)} points/s${when(rate)} (has ${cap.writePointsPerSec}); add a write node or split the region's resources across databases`);
  if (storage.exhaustedAt !== null) actions.push(`storage: provision ${formatBytes(storageBytes)}${when(storage)} (has ${formatBytes(cap.storageBytes)}), or set a retention`);
  if (compute.exhaustedAt !== null) actions.push(`compute: ${cpuCores} cores needed${when(compute)} (has ${cap.cpuCores})`);
  actions.push(`run ${instances} worker${instances > 1 ? 's' : ''} and ${gateways} gateway${gateways > 1 ? 's' : ''}, with ${partitions} partitions of jl.readings (and jl.state): up to ${partitions} workers without repartitioning`);
  return { instances, gateways, partitions, storageBytes, cpuCores, actions };
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '∞';
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
}
