import { HttpError, InfluxDB } from '@influxdata/influxdb-client';
import { WriteError } from '../../core/errors.js';
import type { InfluxTarget, LineWriter } from './writer.js';
import { refusedLines } from './refused-lines.js';
import { RetentionPolicy, showRetentionPolicy } from './retention.js';
import { retriableStatus } from './v1-writer.js';

/**
 * Writes through the v2 write API with @influxdata/influxdb-client (InfluxDB 1.8+, 2.x, 3.x).
 * The client's own batching and retries are switched off: the sink owns both, so that a
 * batch is acknowledged to the broker only when this write has resolved.
 */
export class V2Writer implements LineWriter {
  readonly api = 'v2';
  private readonly influx: InfluxDB;
  private readonly org: string;
  private readonly bucket: string;
  /** Names the lines of a `points beyond retention policy` refusal; read through InfluxQL (1.8: bucket "db/rp"), else unknown. */
  private readonly retention: RetentionPolicy;

  constructor(private readonly t: InfluxTarget) {
    // On 1.8 the v2 API takes "user:password" as token and "database/rp" as bucket.
    const token = t.token || (t.username ? `${t.username}:${t.password}` : '');
    this.influx = new InfluxDB({ url: t.url, token, timeout: t.timeoutMs });
    this.org = t.org;
    this.bucket = t.bucket;
    const [database, rp = ''] = t.bucket.split('/');
    this.retention = new RetentionPolicy(showRetentionPolicy({ ...t, database, token }, rp));
  }

  async init(): Promise<void> {}

  async write(lines: string[]): Promise<void> {
    const api = this.influx.getWriteApi(this.org, this.bucket, 'ns', {
      batchSize: lines.length + 1,
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: lines.length + 1,
      gzipThreshold: this.t.gzip ? 1024 : Number.MAX_SAFE_INTEGER,
      writeFailed: () => {}, // report through the rejected promise only
    });
    api.writeRecords(lines);
    try {
      await api.close();
    } catch (e) {
      if (e instanceof HttpError) {
        const body = e.body ?? '';
        const refused = e.statusCode === 400 || e.statusCode === 422 ? (refusedLines(body, lines) ?? (await this.retention.refused(body, lines))) : undefined;
        throw new WriteError(`InfluxDB write ${e.statusCode}: ${e.body?.slice(0, 300) ?? e.message}`, retriableStatus(e.statusCode), e.statusCode, refused);
      }
      throw new WriteError(`InfluxDB unreachable: ${(e as Error).message}`, true);
    }
  }

  async close(): Promise<void> {}
}
