import { influxQuery, seriesRows, type QueryTarget } from '../storage/influx/influxql.js';
import type { CapacityConfig } from './config.js';
import type { CapacityHistory, StatsBucket } from './planner.js';

/** Bucket sizes the planner reads history in: the smallest (not under the statistics interval) giving at most about 500 buckets. */
const BUCKETS = [1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000];
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
  const rows = seriesRows(
    await influxQuery(
      t,
      `SELECT sum("messages") AS "messages", sum("points") AS "points", sum("field_values") AS "field_values", max("series") AS "series", sum("cpu_ms") AS "cpu_ms" FROM "pipeline_stats" WHERE ${since} AND time <= ${now}ms GROUP BY time(${unit(bucketMs)}), "region", "sector", "code" fill(none)`,
    ),
  );
  const buckets: StatsBucket[] = rows.map((r) => ({
    t: Number(r.time),
    region: String(r.region),
    sector: String(r.sector),
    code: String(r.code),
    messages: Number(r.messages ?? 0),
    points: Number(r.points ?? 0),
    fieldValues: Number(r.field_values ?? 0),
    series: Number(r.series ?? 0),
    cpuMs: Number(r.cpu_ms ?? 0),
  }));
  const retention = config.retentionDays ? ` WHERE time > ${now - config.retentionDays * 86_400_000}ms` : '';
  const stored = seriesRows(await influxQuery(t, `SELECT sum("field_values") AS "v" FROM "pipeline_stats"${retention} GROUP BY "region"`));
  return { bucketMs, now, buckets, storedValues: Object.fromEntries(stored.map((r) => [String(r.region), Number(r.v ?? 0)])) };
}
