import { regionCapacity, type CapacityConfig } from './config.js';
import { fitHoltWinters, forecastAt, type HoltWinters } from './holt-winters.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** Most forecast steps evaluated per metric; longer horizons are walked in strides. */
const MAX_STEPS = 200_000;
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

export interface Recommendation {
  instances: number;
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

/** A regular series: one value per bucket from `from` to `to`, 0 where nothing was recorded. */
function regular(points: Map<number, number>, from: number, to: number, bucketMs: number): number[] {
  const out: number[] = [];
  for (let t = from; t <= to; t += bucketMs) out.push(points.get(t) ?? 0);
  return out;
}

/**
 * Forecasts one metric. `toValue` turns the model's per-bucket forecast into the metric (the
 * identity for rates; storage accumulates). Exhaustion is the first step over `limit`.
 */
function planMetric(
  metric: MetricName,
  y: number[],
  lastT: number,
  bucketMs: number,
  horizonMs: number,
  season: number,
  limit: number,
  accumulate?: { start: number; factor: number; windowBuckets: number | null },
): MetricPlan {
  const m: HoltWinters = fitHoltWinters(y, season);
  const steps = Math.max(1, Math.floor(horizonMs / bucketMs));
  const stride = Math.max(1, Math.ceil(steps / MAX_STEPS));
  // Curve points sit on a fixed grid, so the forecast written by one run overwrites the last one.
  const grid = curveGrid(horizonMs, bucketMs);
  const forecast: [number, number][] = [];
  let exhaustedAt: number | null = null;
  let peak = 0;
  let value = 0;
  // Storage: the running total, less what falls out of the retention window.
  let total = accumulate?.start ?? 0;
  const window: number[] = accumulate?.windowBuckets ? y.slice(-accumulate.windowBuckets) : [];
  let lastCell = Math.floor(lastT / grid);
  for (let k = stride; k <= steps; k += stride) {
    const perBucket = forecastAt(m, k);
    if (accumulate) {
      const added = perBucket * stride;
      total += added * accumulate.factor;
      if (accumulate.windowBuckets) {
        for (let s = 0; s < stride; s++) window.push(perBucket);
        while (window.length > accumulate.windowBuckets) total -= window.shift()! * accumulate.factor;
      }
      value = total;
    } else value = perBucket;
    const t = lastT + k * bucketMs;
    if (value > peak) peak = value;
    if (exhaustedAt === null && value > limit) exhaustedAt = t;
    const cell = Math.floor(t / grid);
    if (cell !== lastCell) forecast.push([cell * grid, value]);
    lastCell = cell;
  }
  const actualStep = Math.max(1, Math.floor(y.length / CURVE_POINTS));
  const actual: [number, number][] = [];
  let running = (accumulate?.start ?? 0) - (accumulate ? y.reduce((a, b) => a + b, 0) * accumulate.factor : 0);
  y.forEach((v, i) => {
    running += accumulate ? v * accumulate.factor : 0;
    if (i % actualStep === 0 || i === y.length - 1) actual.push([lastT - (y.length - 1 - i) * bucketMs, accumulate ? Math.max(0, running) : v]);
  });
  const lastSeason = y.slice(-Math.max(1, season || Math.round(DAY / bucketMs)));
  const current = accumulate ? (accumulate.start ?? 0) : lastSeason.reduce((a, b) => a + b, 0) / lastSeason.length;
  const exhausted: number | null = exhaustedAt;
  return {
    metric,
    unit: METRIC_UNITS[metric],
    current,
    atHorizon: value,
    peak: Math.max(peak, current),
    limit,
    exhaustedAt: current > limit ? lastT : exhausted,
    daysLeft: current > limit ? 0 : exhausted === null ? null : (exhausted - lastT) / DAY,
    model: { alpha: m.alpha, beta: m.beta, gamma: m.gamma, period: m.period, rmse: m.rmse },
    actual,
    forecast,
  };
}

const NICE = [10_000, 60_000, 300_000, 900_000, HOUR, 6 * HOUR, DAY, WEEK];
/** The grid of chart points: a round duration giving at most about CURVE_POINTS points. */
function curveGrid(horizonMs: number, bucketMs: number): number {
  return NICE.find((g) => g >= bucketMs && horizonMs / g <= CURVE_POINTS) ?? Math.max(bucketMs, WEEK);
}

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * The capacity plan (SPEC 7): per region the write rate, storage and compute forecasts against
 * the region's capacity, per sector its forecast, per catalogue resource its series against the
 * cardinality budget; and what to provision. Pure: history in, plan out.
 */
export function planCapacity(history: CapacityHistory, config: CapacityConfig, resources: ResourceInfo[], horizonMs: number): CapacityPlan {
  const { bucketMs } = history;
  const complete = history.buckets.filter((b) => b.t + bucketMs <= history.now);
  // A loop, not Math.min(...times): weeks of buckets would overflow the argument list.
  let from: number | null = null;
  let to: number | null = null;
  for (const b of complete) {
    if (from === null || b.t < from) from = b.t;
    if (to === null || b.t > to) to = b.t;
  }
  const plan: CapacityPlan = { generatedAt: history.now, horizonMs, bucketMs, historyFrom: from, historyTo: to, regions: [], resources: [] };
  if (from === null || to === null) return plan;
  const season = seasonOf(bucketMs, to + bucketMs - from);
  const seconds = bucketMs / 1000;
  const target = config.targetUtilisation;

  const sum = (rows: StatsBucket[], f: (b: StatsBucket) => number) => {
    const m = new Map<number, number>();
    for (const b of rows) m.set(b.t, (m.get(b.t) ?? 0) + f(b));
    return m;
  };

  for (const region of [...new Set(complete.map((b) => b.region))].sort()) {
    const rows = complete.filter((b) => b.region === region);
    const cap = regionCapacity(config, region) ?? { storageBytes: Infinity, writePointsPerSec: Infinity, cpuCores: Infinity };
    const rate = regular(sum(rows, (b) => b.points / seconds), from, to, bucketMs);
    const values = regular(sum(rows, (b) => b.fieldValues), from, to, bucketMs);
    const cores = regular(sum(rows, (b) => b.cpuMs / bucketMs), from, to, bucketMs);
    const retention = config.retentionDays ? Math.round((config.retentionDays * DAY) / bucketMs) : null;
    const metrics = [
      planMetric('write_rate', rate, to, bucketMs, horizonMs, season, cap.writePointsPerSec * target),
      planMetric('storage', values, to, bucketMs, horizonMs, season, cap.storageBytes * target, {
        start: (history.storedValues[region] ?? values.reduce((a, b) => a + b, 0)) * config.bytesPerValue,
        factor: config.bytesPerValue,
        windowBuckets: retention,
      }),
      planMetric('compute', cores, to, bucketMs, horizonMs, season, cap.cpuCores * target),
    ];
    const sectors: SectorPlan[] = [];
    for (const sector of [...new Set(rows.map((b) => b.sector))].sort()) {
      const y = regular(sum(rows.filter((b) => b.sector === sector), (b) => b.points / seconds), from, to, bucketMs);
      const p = planMetric('write_rate', y, to, bucketMs, horizonMs, season, Infinity);
      sectors.push({ sector, current: p.current, atHorizon: p.atHorizon, peak: p.peak, share: 0, forecast: p.forecast });
    }
    const totalAtHorizon = sectors.reduce((a, s) => a + s.atHorizon, 0);
    for (const s of sectors) s.share = totalAtHorizon ? s.atHorizon / totalAtHorizon : 0;
    plan.regions.push({ region, capacity: cap, metrics, sectors, recommendation: recommend(metrics, config, cap) });
  }

  for (const r of resources) {
    const rows = complete.filter((b) => b.code === r.code);
    if (!rows.length) continue;
    // Series per resource: the newest count of each region in a bucket, summed over regions.
    const y = regular(sum(rows, (b) => b.series), from, to, bucketMs);
    const p = planMetric('series', y, to, bucketMs, horizonMs, 0, r.cardinalityBudget);
    const now = y[y.length - 1];
    plan.resources.push({ ...p, current: now, code: r.code, measurement: r.measurement, sector: r.sector, budget: r.cardinalityBudget, overBudgetNow: now > r.cardinalityBudget, exhaustedAt: now > r.cardinalityBudget ? to : p.exhaustedAt, daysLeft: now > r.cardinalityBudget ? 0 : p.daysLeft });
  }
  return plan;
}

/** Instances, partitions, storage and cores that carry the horizon's peak at the target utilisation. */
function recommend(metrics: MetricPlan[], config: CapacityConfig, cap: RegionPlan['capacity']): Recommendation {
  const [rate, storage, compute] = metrics;
  const target = config.targetUtilisation;
  const instances = Math.max(1, Math.ceil(rate.peak / (config.instanceMsgPerSec * target)));
  // Twice the instances, rounded up to a power of two: consumers can double without repartitioning.
  const partitions = nextPow2(2 * instances);
  const storageBytes = storage.atHorizon / target;
  const cpuCores = Math.ceil((compute.peak / target) * 10) / 10;
  const actions: string[] = [];
  const when = (m: MetricPlan) => (m.exhaustedAt === null ? '' : ` by ${new Date(m.exhaustedAt).toISOString().slice(0, 10)}`);
  if (rate.exhaustedAt !== null) actions.push(`write rate: InfluxDB in this region needs ${Math.ceil(rate.peak / target)} points/s${when(rate)} (has ${cap.writePointsPerSec}); add a write node or split the region's resources across databases`);
  if (storage.exhaustedAt !== null) actions.push(`storage: provision ${formatBytes(storageBytes)}${when(storage)} (has ${formatBytes(cap.storageBytes)}), or set a retention`);
  if (compute.exhaustedAt !== null) actions.push(`compute: ${cpuCores} cores needed${when(compute)} (has ${cap.cpuCores})`);
  actions.push(`run ${instances} pipeline instance${instances > 1 ? 's' : ''} over a topic of ${partitions} partitions`);
  return { instances, partitions, storageBytes, cpuCores, actions };
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
