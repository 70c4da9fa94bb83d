import type { Logger } from 'pino';
import type { LineWriter } from './writer.js';

export interface BestEffortOptions {
  /** How often queued lines are written (0: only on `flush()`). */
  flushEveryMs: number;
  /** Lines made afresh every `everyMs` (a gauge such as the open incidents), queued before a flush. */
  periodic?: { everyMs: number; lines: () => string[] };
  maxQueue?: number;
}

/**
 * Writes the pipeline's own side data (incident events, statistics) to InfluxDB, best effort:
 * it is the dashboards' copy, never the record. Lines wait in a bounded queue (the oldest are
 * dropped and counted when it overflows) and go out on its own timer, only while `writer()`
 * returns a writer (the output is up); a failed write puts them back for the next flush.
 * Flushes never overlap.
 */
export class BestEffortLines {
  private queue: string[] = [];
  private busy = false;
  private timer?: NodeJS.Timeout;
  private lastPeriodic = 0;
  dropped = 0;

  constructor(
    private readonly what: string,
    private readonly writer: () => LineWriter | undefined,
    private readonly log: Logger,
    private readonly opts: BestEffortOptions = { flushEveryMs: 0 },
  ) {}

  start(): void {
    if (!this.opts.flushEveryMs) return;
    this.timer = setInterval(() => {
      const p = this.opts.periodic;
      if (p && Date.now() - this.lastPeriodic >= p.everyMs) {
        this.lastPeriodic = Date.now();
        this.push(p.lines());
      }
      void this.flush();
    }, this.opts.flushEveryMs);
    this.timer.unref();
  }

  push(lines: string[]): void {
    this.queue.push(...lines);
    const max = this.opts.maxQueue ?? 100_000;
    if (this.queue.length > max) this.dropped += this.queue.splice(0, this.queue.length - max).length;
  }

  /** Writes up to 5000 queued lines now; never rejects. */
  async flush(): Promise<void> {
    const w = this.writer();
    if (this.busy || !w || !this.queue.length) return;
    this.busy = true;
    const batch = this.queue.splice(0, 5000);
    try {
      await w.write(batch);
    } catch (e) {
      this.queue.unshift(...batch);
      this.log.warn({ err: (e as Error).message, queued: this.queue.length }, `${this.what} not written to InfluxDB; will retry`);
    } finally {
      this.busy = false;
    }
  }

  /** Stops the timer and makes a last attempt to write what is queued. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  get pending(): number {
    return this.queue.length;
  }
}
