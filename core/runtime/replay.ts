import type { Logger } from 'pino';
import { StoppedError, WriteError, isRetriable } from '../errors.js';
import type { Ledger } from '../ledger.js';
import type { Output, SpoolRecord, SpoolStore } from '../stores.js';
import type { HealthTracker } from './health.js';
import { message } from './health.js';
import type { RuntimeOptions } from './options.js';
import { lineSources } from './spool-record.js';
import type { Stopper } from './stopper.js';

/**
 * Replays the spool into the output, in order, until it is empty. Started by `kick` whenever a
 * batch is spooled (and at start when the spool holds data); one loop at a time; it ends when the
 * spool is empty or the runtime stops. Every error ends in a defined state: the output down is
 * retried with a growing wait (up to `probeMaxMs`); a chunk the output refuses as written is
 * replayed one record at a time, and in a refused record the refused lines are isolated and go to
 * the dead letters (`refused`, which retries until durable) while the rest is written; a record
 * damaged on disk is dead-lettered as it stands; a spool read or commit failure is retried. A
 * record is counted (stored or dead-lettered) only once its commit is durable, so nothing is
 * counted twice.
 */
export class SpoolReplayer {
  private running?: Promise<void>;
  /** A damaged record was dead-lettered since the spool was last empty. */
  private damaged = false;

  constructor(
    private readonly spool: SpoolStore,
    private readonly output: Output,
    /** Makes the letters of a record's refused lines durable (index -> why); retries until it is or the runtime stops. */
    private readonly refused: (record: SpoolRecord, lines: Map<number, string>) => Promise<void>,
    private readonly ledger: Ledger,
    private readonly health: HealthTracker,
    private readonly log: Logger,
    private readonly opts: Pick<RuntimeOptions, 'replayBatch' | 'probeMs' | 'probeMaxMs' | 'alarmRatio'>,
    private readonly stopper: Stopper,
    private readonly onReplayed: (points: number) => void = () => {},
  ) {}

  kick(): void {
    if (this.running || this.stopper.stopped || this.spool.isEmpty()) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves once the current loop has ended (call after stopping the stopper). */
  async done(): Promise<void> {
    await this.running;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    /** Records still to replay one at a time, after a chunk was refused as written. */
    let singly = 0;
    while (!this.stopper.stopped && !this.spool.isEmpty()) {
      try {
        const chunk = await this.spool.read(singly > 0 ? 1 : this.opts.replayBatch);
        if (!chunk) {
          // An append counted in the size is still being written: look again shortly.
          await this.stopper.sleep(10);
          continue;
        }
        // A record damaged on disk is dead-lettered as it stands and replay moves past it.
        const damaged = chunk.records.filter((r) => r.unreadable !== undefined);
        const records = damaged.length ? chunk.records.filter((r) => r.unreadable === undefined) : chunk.records;
        const points = records.reduce((n, r) => n + r.lines.length, 0);
        try {
          if (points) await this.output.write(records.flatMap((r) => r.lines));
          this.health.outputOk();
        } catch (e) {
          if (isRetriable(e)) {
            this.health.outputFailed(e);
            this.health.state.retries++;
            await this.stopper.sleep(this.backoff(failures++));
            continue;
          }
          if (chunk.records.length > 1) {
            // One bad record must not block the spool: go through this stretch one at a time.
            singly = chunk.records.length;
            continue;
          }
          const record = chunk.records[0];
          const refused = await this.isolate(record.lines, e);
          this.log.error({ err: message(e), lines: refused.size, sources: record.sources }, 'spooled lines refused by the output; dead-lettered');
          await this.refused(record, refused);
          await this.spool.commit(chunk.next);
          const sources = lineSources(record);
          for (const [i, s] of sources.entries()) {
            if (refused.has(i)) this.ledger.spoolRefused(s, 1);
            else this.ledger.replayed(s, 1);
          }
          singly--;
          this.afterCommit();
          continue;
        }
        for (const rec of damaged) {
          this.log.error({ bytes: rec.unreadable!.length }, 'spool record damaged on disk: dead-lettered as it stands, its points are lost');
          await this.refused(rec, new Map());
          this.damaged = true;
        }
        await this.spool.commit(chunk.next);
        for (const rec of records) for (const [s, n] of Object.entries(rec.sources)) this.ledger.replayed(s, n);
        if (singly > 0) singly -= chunk.records.length;
        failures = 0;
        this.afterCommit();
        this.onReplayed(points);
        this.log.info({ spoolBytes: this.spool.size }, 'replayed %d spooled points', points);
      } catch (e) {
        if (e instanceof StoppedError) return;
        // Reading or committing the spool failed (the disk): the same chunk is tried again.
        this.health.replayFailed(e);
        this.health.state.retries++;
        try {
          await this.stopper.sleep(this.backoff(failures++));
        } catch {
          return;
        }
      }
    }
  }

  /**
   * The lines of one record the output refuses as written (index -> why): the ones it named,
   * else found by halving; the others are written. A retriable error propagates, and the record
   * is tried again whole (writing is idempotent).
   */
  private async isolate(lines: string[], err: unknown, offset = 0): Promise<Map<number, string>> {
    const named = err instanceof WriteError && err.refused?.length ? err.refused : undefined;
    if (named) {
      const out = new Map(named.map((i) => [offset + i, message(err)]));
      const rest = lines.flatMap((l, i) => (named.includes(i) ? [] : [[i, l] as const]));
      for (const [i, l] of rest) for (const [j, why] of await this.tryWrite([l], offset + i)) out.set(j, why);
      return out;
    }
    if (lines.length === 1) return new Map([[offset, message(err)]]);
    const mid = lines.length >> 1;
    return new Map([...(await this.tryWrite(lines.slice(0, mid), offset)), ...(await this.tryWrite(lines.slice(mid), offset + mid))]);
  }

  private async tryWrite(lines: string[], offset: number): Promise<Map<number, string>> {
    try {
      await this.output.write(lines);
      return new Map();
    } catch (e) {
      if (isRetriable(e)) throw e;
      return this.isolate(lines, e, offset);
    }
  }

  /** The wait after `failures` failures in a row: doubling from probeMs, capped at probeMaxMs. */
  private backoff(failures: number): number {
    return Math.min(this.opts.probeMs * 2 ** Math.min(failures, 16), this.opts.probeMaxMs);
  }

  private afterCommit(): void {
    this.health.replayOk();
    this.health.spoolFill(this.spool.size / this.spool.limit, this.opts.alarmRatio, this.spool.size, this.spool.limit);
    if (this.damaged && this.spool.isEmpty()) {
      // The points of damaged records are known only as what the ledger still has in the spool
      // once the spool is empty: they count as dead-lettered (their raw bytes are).
      this.damaged = false;
      for (const [s, c] of Object.entries(this.ledger.snapshot().sources)) if (c.inSpool > 0) this.ledger.spoolRefused(s, c.inSpool);
    }
  }
}
