import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { WriteError } from '../../core/errors.js';
import { refusedLines } from './refused-lines.js';
import { RetentionPolicy, showRetentionPolicy } from './retention.js';
import type { InfluxTarget, LineWriter } from './writer.js';

const gzipAsync = promisify(gzip);

/**
 * Statuses worth retrying: all but the ones that blame the points (400 bad points, 413 too
 * large, 422 unprocessable). A 401/403 or a missing database is the deployment's fault, not the
 * data's: the data waits in the spool until it is fixed, rather than being dead-lettered.
 */
export function retriableStatus(status: number): boolean {
  return status !== 400 && status !== 413 && status !== 422;
}

/**
 * Writes through InfluxDB 1.x `/write` (servers before 1.8 have no v2 API). Line protocol is
 * built by the client library's Point; this only carries it, gzipped, over HTTP.
 */
export class V1Writer implements LineWriter {
  readonly api = 'v1';
  /** Names the lines of a `points beyond retention policy` refusal (the server names none). */
  private readonly retention: RetentionPolicy;

  constructor(private readonly t: InfluxTarget) {
    this.retention = new RetentionPolicy(showRetentionPolicy(t, t.retentionPolicy));
  }

  private auth(): Record<string, string> {
    return this.t.username ? { authorization: 'Basic ' + Buffer.from(`${this.t.username}:${this.t.password}`).toString('base64') } : {};
  }

  async init(): Promise<void> {
    const body = new URLSearchParams({ q: `CREATE DATABASE "${this.t.database.replace(/(["\\])/g, '\\$1')}"` });
    let res: Response;
    try {
      res = await fetch(new URL('/query', this.t.url), { method: 'POST', body, headers: this.auth(), signal: AbortSignal.timeout(this.t.timeoutMs) });
    } catch (e) {
      throw new WriteError(`InfluxDB unreachable: ${(e as Error).message}`, true);
    }
    const text = await res.text();
    if (!res.ok || text.includes('"error"')) throw new WriteError(`CREATE DATABASE failed: ${res.status} ${text.slice(0, 200)}`, retriableStatus(res.status), res.status);
    await this.retention.refresh();
  }

  async write(lines: string[]): Promise<void> {
    const url = new URL('/write', this.t.url);
    url.searchParams.set('db', this.t.database);
    url.searchParams.set('precision', 'ns');
    if (this.t.retentionPolicy) url.searchParams.set('rp', this.t.retentionPolicy);
    const raw = Buffer.from(lines.join('\n'), 'utf8');
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', ...this.auth() };
    let body: Buffer = raw;
    if (this.t.gzip && raw.length > 1024) {
      body = await gzipAsync(raw);
      headers['content-encoding'] = 'gzip';
    }
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", body: body as unknown as ArrayBuffer, headers, signal: AbortSignal.timeout(this.t.timeoutMs) });
    } catch (e) {
      throw new WriteError(`InfluxDB unreachable: ${(e as Error).message}`, true);
    }
    if (res.status === 204) {
      await res.arrayBuffer();
      return;
    }
    const text = await res.text();
    // The database was dropped under us: create it again; the runtime's retry then goes through.
    if (res.status === 404 && text.includes('database not found')) await this.init().catch(() => {});
    const refused = res.status === 400 ? (refusedLines(text, lines) ?? (await this.retention.refused(text, lines))) : undefined;
    throw new WriteError(`InfluxDB /write ${res.status}: ${text.slice(0, 300)}`, retriableStatus(res.status), res.status, refused);
  }

  async close(): Promise<void> {}
}
