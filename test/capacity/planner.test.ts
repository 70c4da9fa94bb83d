import { describe, expect, it } from 'vitest';
import type { CapacityConfig } from '../../capacity/config.js';
import { fitHoltWinters, forecastAt } from '../../capacity/holt-winters.js';
import { planCapacity, type StatsBucket } from '../../capacity/planner.js';
import { capacityMarkdown } from '../../capacity/report.js';
import { prng } from '../../ingest/simulator/readings.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 5); // a Monday
const DAYS = 28;

/** Known truth: points/s with linear growth, a daily and a weekly cycle, and seeded noise. */
const rateAt = (h: number) => 400 + 0.25 * h + 120 * Math.sin((2 * Math.PI * h) / 24) + 40 * Math.sin((2 * Math.PI * h) / 168);
const VALUES_PER_POINT = 4;
const seriesAt = (h: number) => 5000 + 6 * h;

function history(noise = 0.03): StatsBucket[] {
  const r = prng(42);
  const out: StatsBucket[] = [];
  for (let h = 0; h < DAYS * 24; h++) {
    const rate = rateAt(h) * (1 + noise * (r() * 2 - 1));
    const points = rate * 3600;
    out.push({ t: T0 + h * HOUR, region: '220100', sector: 'energy', code: 'JL-NL-0301-001', messages: points, points, fieldValues: points * VALUES_PER_POINT, series: Math.round(seriesAt(h)), cpuMs: points * 0.05 });
  }
  return out;
}

const config = (regions: CapacityConfig['regions']): CapacityConfig => ({ statsEveryMs: 10_000, onlineCycles: 3, bytesPerValue: 2.5, retentionDays: null, targetUtilisation: 1, instanceMsgPerSec: 10_000, historyDays: 28, minHistoryHours: 24, intervalLevel: 0.9, planEveryMs: 0, planHorizonDays: 365, regions });

/** First hour after the history at which f crosses the limit (noise-free truth). */
function trueCrossing(f: (h: number) => number, limit: number): number {
  for (let h = DAYS * 24; h < DAYS * 24 + 24 * 3650; h++) if (f(h) > limit) return T0 + h * HOUR;
  throw new Error('never crosses');
}

const lastT = T0 + (DAYS * 24 - 1) * HOUR;
const within5pct = (predicted: number | null, truth: number) => {
  expect(predicted).not.toBeNull();
  const err = Math.abs(predicted! - truth) / (truth - lastT);
  expect(err, `predicted ${new Date(predicted!).toISOString()}, true ${new Date(truth).toISOString()} (error ${(err * 100).toFixed(1)} %)`).toBeLessThanOrEqual(0.05);
};

describe('Holt-Winters', () => {
  it('recovers trend and season of a clean series', () => {
    const y = Array.from({ length: 24 * 14 }, (_, h) => 100 + 2 * h + 30 * Math.sin((2 * Math.PI * h) / 24));
    const m = fitHoltWinters(y, 24);
    expect(m.period).toBe(24);
    expect(m.trend).toBeCloseTo(2, 1);
    for (const k of [1, 7, 24, 100]) expect(forecastAt(m, k)).toBeCloseTo(100 + 2 * (y.length - 1 + k) + 30 * Math.sin((2 * Math.PI * (y.length - 1 + k)) / 24), -1);
  });

  it('falls back to a linear trend without two seasons of history', () => {
    const m = fitHoltWinters([10, 12, 14, 16, 18], 24);
    expect(m.period).toBe(0);
    expect(forecastAt(m, 5)).toBeCloseTo(28, 0);
  });
});

// Done-when 3 (first half): synthetic history with known growth and seasonality; the planner
// finds each exhaustion date within 5 % of the true one.
describe('capacity planner on synthetic history', () => {
  const buckets = history();
  const now = lastT + HOUR;
  const storedValues = { '220100': buckets.reduce((a, b) => a + b.fieldValues, 0) };
  const writeLimit = 2200;
  const storageLimit = 2.5 * 4e10;
  const cfg = config({ '220100': { storageBytes: storageLimit, writePointsPerSec: writeLimit, cpuCores: 64 } });
  const plan = planCapacity({ bucketMs: HOUR, now, buckets, storedValues }, cfg, [{ code: 'JL-NL-0301-001', measurement: 'energy_meter', sector: 'energy', cardinalityBudget: 40_000 }], 365 * DAY);
  const region = plan.regions[0];
  const metric = (name: string) => region.metrics.find((m) => m.metric === name)!;

  it('uses the weekly season with four weeks of hourly history', () => {
    expect(metric('write_rate').model.period).toBe(168);
  });

  it('finds when the write rate runs out (seasonal peaks cross first)', () => {
    within5pct(metric('write_rate').exhaustedAt, trueCrossing(rateAt, writeLimit));
  });

  it('finds when storage runs out', () => {
    let total = storedValues['220100'] * 2.5;
    const cumulative = (h: number) => (total += rateAt(h) * 3600 * VALUES_PER_POINT * 2.5);
    within5pct(metric('storage').exhaustedAt, trueCrossing(cumulative, storageLimit));
  });

  it('finds when a resource outgrows its cardinality budget', () => {
    const r = plan.resources.find((x) => x.code === 'JL-NL-0301-001')!;
    expect(r.overBudgetNow).toBe(false);
    within5pct(r.exhaustedAt, trueCrossing(seriesAt, 40_000));
  });

  it('recommends workers, gateways and jl.readings partitions for the peak, and says what to provision', () => {
    const rec = region.recommendation;
    expect(rec.instances).toBe(Math.ceil(metric('write_rate').peak / 10_000));
    expect(rec.gateways).toBe(rec.instances);
    expect(rec.partitions).toBeGreaterThanOrEqual(2 * rec.instances);
    expect(rec.actions.join('\n')).toContain(`run ${rec.instances} worker`);
    expect(rec.actions.join('\n')).toContain(`${rec.partitions} partitions of jl.readings`);
    expect(rec.actions.join('\n')).toMatch(/write rate: .* by \d{4}-\d\d-\d\d/);
    expect(rec.actions.join('\n')).toMatch(/storage: provision/);
    expect(region.sectors).toEqual([expect.objectContaining({ sector: 'energy', share: 1 })]);
  });

  it('reports no exhaustion where capacity is ample', () => {
    const big = planCapacity({ bucketMs: HOUR, now, buckets, storedValues }, config({ default: { storageBytes: 1e18, writePointsPerSec: 1e9, cpuCores: 1e6 } }), [], 365 * DAY);
    expect(big.regions[0].metrics.map((m) => m.exhaustedAt)).toEqual([null, null, null]);
  });
});

describe('capacity report without a complete bucket', () => {
  it('says that no bucket is complete yet instead of planning on a partial one', () => {
    const now = T0 + 5_000;
    const partial: StatsBucket[] = [{ t: T0, region: '220100', sector: 'energy', code: 'JL-NL-0301-001', messages: 10, points: 10, fieldValues: 40, series: 3, cpuMs: 1 }];
    const plan = planCapacity({ bucketMs: 10_000, now, buckets: partial, storedValues: {} }, config({}), [], 365 * DAY);
    expect(plan.regions).toEqual([]);
    const md = capacityMarkdown(plan);
    expect(md).toContain('(no complete bucket yet) (10 s buckets)');
    expect(md).toMatch(/No statistics yet: no 10 s bucket of `pipeline_stats` is complete/);
  });
});

// Issue 14: the planner says "not enough history" instead of recommending from minutes, and
// gives each forecast a prediction interval.
describe('capacity plan: history needed, and intervals', () => {
  const buckets = history();
  const now = T0 + DAYS * DAY;
  const storedValues = { '220100': 0 };

  it('says "not enough history" below capacity.minHistoryHours, and plans nothing', () => {
    const short = buckets.slice(0, 10); // 10 hours
    const plan = planCapacity({ bucketMs: HOUR, now: T0 + 10 * HOUR, buckets: short, storedValues }, config({}), [{ code: 'JL-NL-0301-001', measurement: 'energy_meter', sector: 'energy', cardinalityBudget: 10 }], 365 * DAY);
    expect(plan).toMatchObject({ enoughHistory: false, historyMs: 10 * HOUR, minHistoryMs: 24 * HOUR, regions: [], resources: [] });
    expect(capacityMarkdown(plan)).toMatch(/Not enough history: 10 h of `pipeline_stats`; the planner needs at least 24 h \(`capacity.minHistoryHours`\)/);
    // With a day of it, it plans.
    const day = planCapacity({ bucketMs: HOUR, now: T0 + 24 * HOUR, buckets: buckets.slice(0, 24), storedValues }, config({}), [], 30 * DAY);
    expect(day.enoughHistory).toBe(true);
    expect(day.regions).toHaveLength(1);
  });

  it('gives a prediction interval at the horizon that holds the truth and widens with the horizon', () => {
    const at = (days: number) => planCapacity({ bucketMs: HOUR, now, buckets, storedValues }, config({}), [], days * DAY).regions[0].metrics.find((m) => m.metric === 'write_rate')!;
    for (const days of [7, 30, 90]) {
      const m = at(days);
      const truth = rateAt(DAYS * 24 - 1 + days * 24);
      expect(m.interval.level).toBe(0.9);
      expect(m.interval.low, `${days} days`).toBeLessThan(m.atHorizon);
      expect(m.interval.high, `${days} days`).toBeGreaterThan(m.atHorizon);
      expect(truth, `${days} days: ${m.interval.low}-${m.interval.high}`).toBeGreaterThanOrEqual(m.interval.low);
      expect(truth, `${days} days: ${m.interval.low}-${m.interval.high}`).toBeLessThanOrEqual(m.interval.high);
    }
    const width = (m: { interval: { low: number; high: number } }) => m.interval.high - m.interval.low;
    expect(width(at(90))).toBeGreaterThan(width(at(7)));
    const storage = planCapacity({ bucketMs: HOUR, now, buckets, storedValues }, config({}), [], 90 * DAY).regions[0].metrics.find((m) => m.metric === 'storage')!;
    expect(storage.interval.high).toBeGreaterThan(storage.atHorizon);
    expect(capacityMarkdown(planCapacity({ bucketMs: HOUR, now, buckets, storedValues }, config({}), [], 90 * DAY))).toMatch(/\| write_rate \(points\/s\) \| [\d,.]+ \| [\d,.]+ \(90 %: [\d,.]+–[\d,.]+\) \|/);
  });
});
