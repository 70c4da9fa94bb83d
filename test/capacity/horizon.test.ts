import { describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import type { CapacityConfig } from '../../capacity/config.js';
import { planLines } from '../../capacity/forecast-points.js';
import { fitHoltWinters, forecastAt, forecastSum } from '../../capacity/holt-winters.js';
import { MAX_HORIZON_DAYS, planCapacity, type CapacityPlan, type MetricPlan, type StatsBucket } from '../../capacity/planner.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { prng } from '../../ingest/simulator/readings.js';

// Security review (issue 10) row 1: the planner's cost and output must not grow with the
// horizon, the horizon is bounded, and the analytic search must give what walking every
// bucket gives.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 5);

const config = (o: Partial<CapacityConfig> = {}): CapacityConfig => ({ statsEveryMs: 10_000, onlineCycles: 3, bytesPerValue: 2.5, retentionDays: null, targetUtilisation: 1, instanceMsgPerSec: 10_000, historyDays: 28, minHistoryHours: 0, intervalLevel: 0.9, planEveryMs: 0, planHorizonDays: 365, regions: { default: { storageBytes: 2e12, writePointsPerSec: 1e5, cpuCores: 8 } }, ...o });

/** One region, sector and resource; `rate(i)` points/s in bucket i. */
function oneSeries(n: number, bucketMs: number, rate: (i: number) => number): StatsBucket[] {
  const r = prng(3);
  return Array.from({ length: n }, (_, i) => {
    const points = Math.max(0, rate(i) * (1 + 0.02 * (r() * 2 - 1))) * (bucketMs / 1000);
    return { t: T0 + i * bucketMs, region: '220100', sector: 'energy', code: 'JL-NL-0301-001', messages: points, points, fieldValues: points * 4, series: Math.round(1000 + i), cpuMs: points * 0.05 };
  });
}

/**
 * The reference: every bucket of the horizon walked in turn, as the planner did before
 * (running total, retention window trimmed bucket by bucket).
 */
function walk(y: number[], season: number, steps: number, acc?: { start: number; factor: number; window: number | null }) {
  const m = fitHoltWinters(y, season);
  const values: number[] = [NaN];
  let total = acc?.start ?? 0;
  const window = acc?.window ? y.slice(-acc.window) : [];
  for (let k = 1; k <= steps; k++) {
    const f = forecastAt(m, k);
    if (acc) {
      total += f * acc.factor;
      if (acc.window) {
        window.push(f);
        while (window.length > acc.window) total -= window.shift()! * acc.factor;
      }
      values.push(total);
    } else values.push(f);
  }
  return values;
}

function expectSame(p: MetricPlan, values: number[], lastT: number, bucketMs: number, limit: number) {
  const steps = values.length - 1;
  const close = (a: number, b: number, what: string) => expect(Math.abs(a - b), `${p.metric} ${what}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(b)));
  close(p.atHorizon, values[steps], 'at horizon');
  close(p.peak, Math.max(0, p.current, ...values.slice(1)), 'peak');
  const k = values.findIndex((v, i) => i > 0 && v > limit);
  expect(p.exhaustedAt, `${p.metric} exhausted`).toBe(p.current > limit ? lastT : k < 0 ? null : lastT + k * bucketMs);
  for (const [t, v] of p.forecast) close(v, values[Math.ceil((t - lastT) / bucketMs)], `forecast at ${new Date(t).toISOString()}`);
}

describe('the analytic forecast equals walking every bucket', () => {
  it('sums of the clamped forecast, with and without a season', () => {
    const seasonal = fitHoltWinters(Array.from({ length: 24 * 14 }, (_, h) => Math.max(0, 50 - 0.2 * h + 30 * Math.sin((2 * Math.PI * h) / 24))), 24);
    const flat = fitHoltWinters([10, 12, 14, 16, 18], 0);
    const falling = fitHoltWinters([18, 16, 14, 12, 10], 0);
    for (const m of [seasonal, flat, falling])
      for (const [from, to] of [
        [1, 1],
        [1, 23],
        [5, 500],
        [17, 3000],
      ]) {
        let sum = 0;
        for (let k = from; k <= to; k++) sum += forecastAt(m, k);
        expect(forecastSum(m, from, to)).toBeCloseTo(sum, 6);
      }
  });

  const cases: { name: string; n: number; bucketMs: number; rate: (i: number) => number; horizonMs: number; retentionDays?: number; limits: { rate: number; storage: number; series: number } }[] = [
    // Weekly season, rising: the seasonal peaks cross first.
    { name: 'hourly, weekly season, rising', n: 28 * 24, bucketMs: HOUR, rate: (h) => 400 + 0.25 * h + 120 * Math.sin((2 * Math.PI * h) / 24) + 40 * Math.sin((2 * Math.PI * h) / 168), horizonMs: 365 * DAY, limits: { rate: 2200, storage: 1e11, series: 9000 } },
    // Retention longer than the history: the window fills, then slides (trimmed by history, then by forecast).
    { name: 'with a retention longer than the history', n: 28 * 24, bucketMs: HOUR, rate: (h) => 400 + 0.25 * h + 120 * Math.sin((2 * Math.PI * h) / 24), horizonMs: 200 * DAY, retentionDays: 30, limits: { rate: 600, storage: 2.5e10, series: 2000 } },
    { name: 'with a retention shorter than the history', n: 28 * 24, bucketMs: HOUR, rate: (h) => 400 + 0.25 * h + 120 * Math.sin((2 * Math.PI * h) / 24), horizonMs: 200 * DAY, retentionDays: 3, limits: { rate: 600, storage: 3.2e9, series: 2000 } },
    // Falling to zero: the forecast is clamped at 0; the peak is at the start.
    { name: 'daily season, falling to zero', n: 4 * 24 * 4, bucketMs: 15 * 60_000, rate: (i) => Math.max(0, 300 - 0.5 * i + 100 * Math.sin((2 * Math.PI * i) / 96)), horizonMs: 60 * DAY, retentionDays: 2, limits: { rate: 150, storage: 1e9, series: 1e9 } },
    // No season (under two days of history), 10-minute buckets.
    { name: 'no season', n: 144, bucketMs: 600_000, rate: (i) => 100 + 0.5 * i, horizonMs: 90 * DAY, limits: { rate: 1000, storage: 2e10, series: 30_000 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const buckets = oneSeries(c.n, c.bucketMs, c.rate);
      const lastT = buckets[buckets.length - 1].t;
      const cfg = config({ retentionDays: c.retentionDays ?? null, regions: { default: { storageBytes: c.limits.storage, writePointsPerSec: c.limits.rate, cpuCores: 1e6 } } });
      const stored = buckets.reduce((a, b) => a + b.fieldValues, 0);
      const plan = planCapacity({ bucketMs: c.bucketMs, now: lastT + c.bucketMs, buckets, storedValues: { '220100': stored } }, cfg, [{ code: 'JL-NL-0301-001', measurement: 'energy_meter', sector: 'energy', cardinalityBudget: c.limits.series }], c.horizonMs);
      const [rate, storage] = plan.regions[0].metrics;
      const season = rate.model.period;
      const steps = Math.floor(c.horizonMs / c.bucketMs);
      const seconds = c.bucketMs / 1000;
      expectSame(rate, walk(buckets.map((b) => b.points / seconds), season, steps), lastT, c.bucketMs, c.limits.rate);
      const window = c.retentionDays ? Math.round((c.retentionDays * DAY) / c.bucketMs) : null;
      expectSame(storage, walk(buckets.map((b) => b.fieldValues), season, steps, { start: stored * 2.5, factor: 2.5, window }), lastT, c.bucketMs, c.limits.storage);
      expectSame(plan.resources[0], walk(buckets.map((b) => b.series), 0, steps), lastT, c.bucketMs, c.limits.series);
      // Each case crosses somewhere, so the search is exercised, not only "never".
      expect([rate, storage, plan.resources[0]].some((m) => m.exhaustedAt !== null && m.exhaustedAt > lastT), 'some metric crosses within the horizon').toBe(true);
    });
  }
});

/** A demo-sized history like the review's: 10 s buckets, every region and catalogue resource. */
function demoPlanInput() {
  const cfg = loadPipelineConfig(defaultConfigFile(), {});
  const catalogue = loadCatalogue(cfg.catalogue);
  const regions = [...catalogue.divisions.keys()].filter((c) => c !== '220000');
  const bucketMs = 10_000;
  const n = 500;
  const r = prng(11);
  const buckets: StatsBucket[] = [];
  for (let i = 0; i < n; i++)
    for (const region of regions)
      for (const e of catalogue.entries) {
        const points = (20 + 0.01 * i + 5 * r()) * 10;
        buckets.push({ t: T0 + i * bucketMs, region, sector: e.sector, code: e.code, messages: points, points, fieldValues: points * 4, series: 100 + i, cpuMs: points * 0.05 });
      }
  const resources = catalogue.entries.map((e) => ({ code: e.code, measurement: e.measurement, sector: e.sector, cardinalityBudget: e.cardinalityBudget }));
  return { history: { bucketMs, now: T0 + n * bucketMs, buckets, storedValues: {} }, resources, cfg: cfg.capacity };
}

const curves = (plan: CapacityPlan) => [...plan.regions.flatMap((r) => [...r.metrics, ...r.sectors]), ...plan.resources];

describe('the planner cost does not grow with the horizon', () => {
  const { history, resources, cfg } = demoPlanInput();

  it(`plans the longest horizon (${MAX_HORIZON_DAYS} days) of 10 s buckets with bounded curves, quickly`, () => {
    const timed = (days: number) => {
      const started = performance.now();
      const plan = planCapacity(history, { ...cfg, retentionDays: 30 }, resources, days * DAY);
      const lines = planLines(plan);
      return { plan, lines, ms: performance.now() - started };
    };
    const short = timed(1);
    const long = timed(MAX_HORIZON_DAYS);
    console.log(`planner, ${history.buckets.length} buckets, ${curves(long.plan).length} curves: 1 d ${short.ms.toFixed(0)} ms, ${MAX_HORIZON_DAYS} d ${long.ms.toFixed(0)} ms, ${long.lines.length} lines`);
    for (const c of curves(long.plan)) expect(c.forecast.length).toBeLessThanOrEqual(201);
    expect(long.lines.length).toBeLessThanOrEqual(curves(long.plan).length * 201 + long.plan.regions.length * 4 + long.plan.resources.length);
    // The same work whatever the horizon (generous bound for a slow CI machine).
    expect(long.ms).toBeLessThan(2 * short.ms + 250);
  });

  it(`refuses a horizon over ${MAX_HORIZON_DAYS} days`, () => {
    expect(() => planCapacity(history, cfg, resources, (MAX_HORIZON_DAYS + 1) * DAY)).toThrow(new RegExp(`at most ${MAX_HORIZON_DAYS} days`));
  });
});
