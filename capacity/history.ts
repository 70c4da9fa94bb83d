import { influxQuery, seriesRows, type QueryTarget } from '../storage/influx/influxql.js';
import type { CapacityConfig } from './config.js';
import type { CapacityHistory, StatsBucket } from './planner.js';

/** Bucket sizes the planner reads history in: the smallest (not under the statistics interval) giving at most about 500 buckets. */
const BUCKETS = [1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000];
/** Buckets read per query. */
const SLICE_BUCKETS = 50;
const unit = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/**
 * Reads `pipeline_stats` (written by every instance) back as buckets per region, sector and
 * resource, summed over instances. The bucket grows with the history: 10 s after a short demo
 * run, an hour for weeks of history.
 */
export async function readHistory(t: QueryTarget, config: CapacityConfig, now = Date.now()): Promise<CapacityHistory> {
  const since = `time > ${now - config.historyDays * 86_400_000}ms`;
  const first = await influxQuery(t, `SELECT first("messages") FROM "pipeline_stats" WHERE ${since}`);
  const firstT = first.length ? Number(first[0].values[0][0]) : now;
  const bucketMs = BUCKETS.find((b) => b >= config.statsEveryMs && (now - firstT) / b <= 500) ?? BUCKETS[BUCKETS.length - 1];
  // Read in slices of SLICE_BUCKETS buckets (slice edges on bucket edges, so no bucket is
  // split): each answer is parsed in one go, and a small one keeps the event loop turning.
  const buckets: StatsBucket[] = [];
  for (let from = Math.floor(firstT / bucketMs) * bucketMs; from <= now; from += SLICE_BUCKETS * bucketMs) {
    const series = await influxQuery(
      t,
      `SELECT sum("messages") AS "messages", sum("points") AS "points", sum("field_values") AS "field_values", max("series") AS "series", sum("cpu_ms") AS "cpu_ms" FROM "pipeline_stats" WHERE ${since} AND time <= ${now}ms AND time >= ${from}ms AND time < ${from + SLICE_BUCKETS * bucketMs}ms GROUP BY time(${unit(bucketMs)}), "region", "sector", "code" fill(none)`,
    );
    // Straight from the columns: no object per row on the way (large histories).
    for (const s of series) {
      const col = (name: string) => s.columns.indexOf(name);
      const [time, messages, points, fieldValues, seriesCount, cpuMs] = ['time', 'messages', 'points', 'field_values', 'series', 'cpu_ms'].map(col);
      const tags = { region: String(s.tags?.region), sector: String(s.tags?.sector), code: String(s.tags?.code) };
      const num = (v: unknown[], i: number) => Number(v[i] ?? 0);
      for (const v of s.values) buckets.push({ t: Number(v[time]), ...tags, messages: num(v, messages), points: num(v, points), fieldValues: num(v, fieldValues), series: num(v, seriesCount), cpuMs: num(v, cpuMs) });
    }
  }
  const retention = config.retentionDays ? ` WHERE time > ${now - config.retentionDays * 86_400_000}ms` : '';
  const stored = seriesRows(await influxQuery(t, `SELECT sum("field_values") AS "v" FROM "pipeline_stats"${retention} GROUP BY "region"`));
  return { bucketMs, now, buckets, storedValues: Object.fromEntries(stored.map((r) => [String(r.region), Number(r.v ?? 0)])) };
}
