import { influxQuery, type QueryTarget } from './influxql.js';

/** A retention policy as InfluxDB applies it to writes. 0 ms = keep forever. */
export interface Policy {
  durationMs: number;
  shardGroupMs: number;
}

/** Go's zero time (0001-01-01) before the Unix epoch, ms: InfluxDB aligns shard groups to it (`Truncate`). */
const GO_ZERO_MS = 62_135_596_800_000;

/** An InfluxQL duration as SHOW RETENTION POLICIES prints it (`1h0m0s`, `0s`), in ms. */
export function parseDuration(s: string): number | undefined {
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, µs: 1e-3, ns: 1e-6 };
  let ms = 0;
  let rest = s;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g)) {
    ms += Number(m[1]) * unit[m[2]];
    rest = rest.replace(m[0], '');
  }
  return s && !rest ? ms : undefined;
}

/** Points InfluxDB dropped as older than the retention policy (`points beyond retention policy dropped=N`). */
export function droppedBeyondRetention(body: string): number | undefined {
  const m = /points beyond retention policy dropped=(\d+)/.exec(body);
  return m ? Number(m[1]) : undefined;
}

/** A line's timestamp (its last field, ns) in ms; undefined without one. */
function timeMs(line: string): number | undefined {
  const last = line.lastIndexOf(' ');
  const ns = line.slice(last + 1);
  if (!/^\d{1,19}$/.test(ns) || line.indexOf(' ') === last) return undefined;
  return ns.length > 6 ? Number(ns.slice(0, -6)) : 0; // exact: ns past 2^53 lose digits as a Number
}

/**
 * The lines InfluxDB 1.x drops under `policy` at `now`, as its points writer decides: older than
 * now - duration, unless a shard group that newer points of the same batch open covers them.
 * Undefined when a line has no timestamp (the server's clock would decide).
 */
export function beyondRetention(lines: string[], policy: Policy, now: number): number[] | undefined {
  if (!policy.durationMs) return [];
  const cutoff = now - policy.durationMs;
  const times = lines.map(timeMs);
  if (times.some((t) => t === undefined)) return undefined;
  const sg = policy.shardGroupMs;
  const group = (t: number) => t - ((((t + GO_ZERO_MS) % sg) + sg) % sg);
  const open = new Set<number>();
  if (sg > 0) for (const t of times as number[]) if (t >= cutoff) open.add(group(t));
  const out: number[] = [];
  (times as number[]).forEach((t, i) => {
    if (t < cutoff && !(sg > 0 && open.has(group(t)))) out.push(i);
  });
  return out;
}

/**
 * What an output knows of its target's retention policy, to name the lines of a `points beyond
 * retention policy` refusal itself instead of leaving the runtime to halve the batch (about 2N
 * writes for N old points). Read at init and again when a refusal does not match what it knows;
 * when it still cannot tell (policy unreadable, count differs), it names none.
 */
export class RetentionPolicy {
  private policy?: Policy;

  constructor(private readonly load: () => Promise<Policy | undefined>) {}

  /** Reads the policy again; keeps the last one known when that fails. */
  async refresh(): Promise<void> {
    try {
      this.policy = (await this.load()) ?? this.policy;
    } catch {
      // Unknown for now: refusals fall back to isolation by the runtime.
    }
  }

  /** Indices of the refused lines, when `body` is a retention refusal and they can be told exactly. */
  async refused(body: string, lines: string[], now = Date.now): Promise<number[] | undefined> {
    const dropped = droppedBeyondRetention(body);
    if (dropped === undefined) return undefined;
    for (const fresh of [false, true]) {
      if (fresh || !this.policy) await this.refresh();
      if (!this.policy) return undefined;
      const named = beyondRetention(lines, this.policy, now());
      if (named?.length === dropped) return named;
    }
    return undefined;
  }
}

/** Loads a v1 database's policy (`rp`, or the default one) with SHOW RETENTION POLICIES. */
export function showRetentionPolicy(t: QueryTarget, rp: string): () => Promise<Policy | undefined> {
  return async () => {
    const db = t.database.replace(/(["\\])/g, '\\$1');
    const [series] = await influxQuery(t, `SHOW RETENTION POLICIES ON "${db}"`);
    if (!series) return undefined;
    const col = (name: string) => series.columns.indexOf(name);
    const row = series.values.find((v) => (rp ? v[col('name')] === rp : v[col('default')] === true));
    if (!row) return undefined;
    const durationMs = parseDuration(String(row[col('duration')]));
    const shardGroupMs = parseDuration(String(row[col('shardGroupDuration')]));
    return durationMs === undefined || shardGroupMs === undefined ? undefined : { durationMs, shardGroupMs };
  };
}
