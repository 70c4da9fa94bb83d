import type { Logger } from 'pino';
import type { LineWriter } from './writer.js';

/**
 * Writes the pipeline's own side data (incident events, statistics) to InfluxDB, best effort:
 * it is the dashboards' copy, never the record. Failed writes stay queued (bounded; the oldest
 * are dropped and counted) and go out with the next flush. Flushes never overlap.
 */
export class BestEffortLines {
  private queue: string[] = [];
  private busy = false;
  dropped = 0;

  constructor(private readonly what: string, private readonly writer: () => LineWriter | undefined, private readonly log: Logger, private readonly maxQueue = 100_000) {}

  push(lines: string[]): void {
    this.queue.push(...lines);
    if (this.queue.length > this.maxQueue) this.dropped += this.queue.splice(0, this.queue.length - this.maxQueue).length;
  }

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

  get pending(): number {
    return this.queue.length;
  }
}
