import type { Output } from '../../core/stores.js';
import { WriteError } from '../../core/errors.js';
import type { Reading } from '../../core/types.js';
import { toLine } from './line-protocol.js';
import type { LineWriter } from './writer.js';

/**
 * InfluxDB as the runtime's output: a reading becomes line protocol (the client library's
 * Point, which throws for a value it cannot carry: the runtime dead-letters that reading), and
 * batches go through the writer the server needs (v1 `/write` or the v2 API).
 */
export class InfluxOutput implements Output {
  readonly name = 'InfluxDB';

  constructor(private readonly writer: LineWriter) {}

  encode(reading: Reading): string {
    return toLine(reading);
  }

  write(lines: string[]): Promise<void> {
    return this.writer.write(lines);
  }
}

/** No InfluxDB configured: every write is retriable, so data waits in the spool until one is. */
export class NoOutput implements Output {
  readonly name = 'InfluxDB (not configured)';

  encode(reading: Reading): string {
    return toLine(reading);
  }

  write(): Promise<void> {
    return Promise.reject(new WriteError('no InfluxDB configured (JL_INFLUX_URL): data is kept in the spool', true));
  }
}
