import type { InfluxTarget } from './writer.js';

/** One series of an InfluxQL result. */
export interface Series {
  name: string;
  columns: string[];
  values: unknown[][];
  tags?: Record<string, string>;
}

export type QueryTarget = Pick<InfluxTarget, 'url' | 'database'> & Partial<Pick<InfluxTarget, 'token' | 'username' | 'password' | 'timeoutMs'>>;

/**
 * Runs one InfluxQL statement over `/query` (POST, so long statements fit), which InfluxDB 1.x,
 * 2.x (through a DBRP mapping) and 3.x all answer. The client library speaks only Flux and SQL,
 * hence plain HTTP. Throws with the server's message and the statement on any error.
 */
export async function influxQuery(t: QueryTarget, q: string, epoch: 'ns' | 'ms' = 'ms'): Promise<Series[]> {
  const headers: Record<string, string> = {};
  if (t.token) headers.authorization = `Token ${t.token}`;
  else if (t.username) headers.authorization = 'Basic ' + Buffer.from(`${t.username}:${t.password ?? ''}`).toString('base64');
  const body = new URLSearchParams({ db: t.database, q, epoch });
  const res = await fetch(new URL('/query', t.url), { method: 'POST', body, headers, signal: AbortSignal.timeout(t.timeoutMs ?? 30_000) });
  const text = await res.text();
  let parsed: { results?: { series?: Series[]; error?: string }[]; error?: string };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new Error(`InfluxQL: HTTP ${res.status} ${text.slice(0, 200)} for ${q}`);
  }
  if (parsed.error) throw new Error(`InfluxQL error: ${parsed.error} in ${q}`);
  const r = parsed.results?.[0];
  if (r?.error) throw new Error(`InfluxQL error: ${r.error} in ${q}`);
  return r?.series ?? [];
}

/** Rows of every series as objects keyed by column, with the series' tags merged in. */
export function seriesRows(series: Series[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const s of series) for (const v of s.values) out.push({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) });
  return out;
}
