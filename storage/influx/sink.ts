import type { Logger } from 'pino';
import { backoffDelay, sleep } from '../../core/backoff.js';
import { WriteError } from '../../core/errors.js';
import type { Ledger } from '../../core/ledger.js';
import type { Reading } from '../../core/types.js';
import type { Spool, SpoolRecord } from '../spool/spool.js';
import { toLine } from './line-protocol.js';
import type { LineWriter } from './writer.js';

export interface SinkOptions {
  retries: number;
  retryMinMs: number;
  retryMaxMs: number;
  replayBatch: number;
  probeMs: number;
  alarmRatio: number;
}

/** A point InfluxDB refused as written (4xx): it goes to the dead letters, not the spool. */
export interface StorageRejection {
  reading: Reading;
  detail: string;
}

/**
 * The storage stage: writes batches to InfluxDB, and when InfluxDB is slow or down, to the
 * durable spool, which it replays in order once InfluxDB answers again.
 *
 * `write` resolves once every point of the batch is either acknowledged by InfluxDB, fsync'd
 * in the spool, or returned as a StorageRejection; only then may the caller ack the source.
 * It rejects only with SpoolFullError, in which case nothing of the batch was taken.
 * While the spool holds data, new batches are appended behind it so that order is kept.
 */
export class InfluxSink {
  private replaying?: Promise<void>;
  private closed = false;
  private alarmed = false;
  /** Whether the last attempt to reach InfluxDB worked. */
  up = true;
  writes = 0;
  writeErrors = 0;

  constructor(
    private readonly writer: LineWriter | undefined,
    private readonly spool: Spool,
    private readonly ledger: Ledger,
    private readonly log: Logger,
    private readonly opts: SinkOptions,
    /** Takes a spooled record InfluxDB refuses as written, durably (the dead letters). */
    private readonly refused: (rec: SpoolRecord, detail: string) => Promise<void>,
  ) {
    if (!writer) this.up = false;
    if (!spool.isEmpty()) this.startReplay();
  }

  async write(batch: Reading[]): Promise<StorageRejection[]> {
    const lines = batch.map(toLine);
    if (this.spool.isEmpty() && this.writer) {
      const rejected = await this.writeWithRetry(batch, lines);
      if (rejected !== undefined) {
        for (const r of batch) if (!rejected.some((x) => x.reading === r)) this.ledger.stored(r.source);
        return rejected;
      }
    }
    await this.toSpool(batch, lines);
    return [];
  }

  /** Tries the write a few times; undefined means InfluxDB stayed unavailable. */
  private async writeWithRetry(batch: Reading[], lines: string[]): Promise<StorageRejection[] | undefined> {
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) await sleep(backoffDelay(attempt - 1, this.opts.retryMinMs, this.opts.retryMaxMs));
      if (!this.spool.isEmpty()) return undefined; // another batch found InfluxDB down: queue behind it
      try {
        this.writes++;
        await this.writer!.write(lines);
        this.markUp();
        return [];
      } catch (e) {
        this.writeErrors++;
        if (e instanceof WriteError && !e.retriable) return this.isolate(batch, lines, e);
        this.markDown(e as Error);
      }
    }
    return undefined;
  }

  /**
   * A 4xx means some points are bad as written (e.g. a field type conflict). Bisect the
   * batch to find them; the good ones are written (rewriting is idempotent).
   */
  private async isolate(batch: Reading[], lines: string[], err: WriteError): Promise<StorageRejection[] | undefined> {
    if (batch.length === 1) return [{ reading: batch[0], detail: err.message }];
    const mid = batch.length >> 1;
    const out: StorageRejection[] = [];
    for (const [b, l] of [
      [batch.slice(0, mid), lines.slice(0, mid)],
      [batch.slice(mid), lines.slice(mid)],
    ] as const) {
      try {
        await this.writer!.write(l);
      } catch (e) {
        if (!(e instanceof WriteError) || e.retriable) return undefined;
        const sub = await this.isolate(b, l, e);
        if (sub === undefined) return undefined;
        out.push(...sub);
      }
    }
    return out;
  }

  private async toSpool(batch: Reading[], lines: string[]): Promise<void> {
    const sources: Record<string, number> = {};
    for (const r of batch) sources[r.source] = (sources[r.source] ?? 0) + 1;
    await this.spool.append({ sources, lines });
    for (const [s, n] of Object.entries(sources)) this.ledger.spooled(s, n);
    this.checkAlarm();
    this.startReplay();
  }

  private checkAlarm(): void {
    const ratio = this.spool.size / this.spool.limit;
    if (ratio >= this.opts.alarmRatio && !this.alarmed) {
      this.alarmed = true;
      this.log.error({ spoolBytes: this.spool.size, spoolLimit: this.spool.limit }, 'SPOOL ALARM: spool is %d%% full; at 100%% acknowledgements stop and the broker holds the data', Math.round(ratio * 100));
    } else if (ratio < this.opts.alarmRatio && this.alarmed) {
      this.alarmed = false;
      this.log.warn({ spoolBytes: this.spool.size }, 'spool alarm cleared');
    }
  }

  get spoolBytes(): number {
    return this.spool.size;
  }

  get spoolAlarm(): boolean {
    return this.alarmed;
  }

  private markDown(e: Error): void {
    if (this.up) this.log.error({ err: e.message }, 'InfluxDB unavailable; batches go to the durable spool');
    this.up = false;
  }
  private markUp(): void {
    if (!this.up) this.log.warn('InfluxDB reachable again');
    this.up = true;
  }

  private startReplay(): void {
    if (this.replaying || this.closed) return;
    this.replaying = this.replay().finally(() => {
      this.replaying = undefined;
    });
  }

  /** Replays the spool in order until it is empty; waits probeMs between failed attempts. */
  private async replay(): Promise<void> {
    let attempt = 0;
    while (!this.closed && !this.spool.isEmpty()) {
      if (!this.writer) {
        await this.wait(this.opts.probeMs);
        continue;
      }
      const chunk = await this.spool.read(this.opts.replayBatch);
      if (!chunk) {
        // An append counted in the size is still being written: look again shortly.
        await sleep(10);
        continue;
      }
      let stored = chunk.records;
      try {
        await this.writer.write(chunk.records.flatMap((r) => r.lines));
      } catch (e) {
        if (e instanceof WriteError && !e.retriable) {
          stored = await this.replayOneByOne(chunk.records);
        } else {
          this.markDown(e as Error);
          await this.wait(Math.min(this.opts.probeMs * 2 ** Math.min(attempt++, 5), 30_000));
          continue;
        }
      }
      attempt = 0;
      this.markUp();
      await this.spool.commit(chunk.next);
      for (const rec of stored) for (const [s, n] of Object.entries(rec.sources)) this.ledger.replayed(s, n);
      this.checkAlarm();
      this.log.info({ spoolBytes: this.spool.size }, 'replayed %d spooled points', chunk.records.reduce((n, r) => n + r.lines.length, 0));
    }
  }

  /**
   * A spooled chunk InfluxDB refuses as written: write its records alone so one bad record
   * cannot block the spool; a record still refused goes to the dead letters. Returns the
   * records that were stored. A retriable error propagates and the chunk is tried again.
   */
  private async replayOneByOne(records: SpoolRecord[]): Promise<SpoolRecord[]> {
    const stored: SpoolRecord[] = [];
    for (const rec of records) {
      try {
        await this.writer!.write(rec.lines);
        stored.push(rec);
      } catch (e) {
        if (!(e instanceof WriteError) || e.retriable) throw e;
        this.log.error({ err: e.message, sources: rec.sources }, 'spooled record refused by InfluxDB; dead-lettered');
        await this.refused(rec, e.message);
        for (const [s, n] of Object.entries(rec.sources)) this.ledger.spoolRefused(s, n);
      }
    }
    return stored;
  }

  /** Sleeps up to `ms`, waking early when the sink is closed so shutdown is prompt. */
  private async wait(ms: number): Promise<void> {
    for (const until = Date.now() + ms; !this.closed && Date.now() < until; ) await sleep(Math.min(100, until - Date.now()));
  }

  /** Waits until the spool is empty or `timeoutMs` passes. */
  async drainSpool(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.spool.isEmpty() && Date.now() < until) await sleep(50);
    return this.spool.isEmpty();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.replaying;
    await this.spool.close();
    await this.writer?.close();
  }
}
