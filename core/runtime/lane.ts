/**
 * A queue of jobs run at most `limit` at a time, in order. A job must handle its own errors
 * (the runtime's jobs never reject); one that does reject anyway is reported to `onError` and
 * the lane goes on. `idle()` resolves once nothing is queued or running.
 */
export class Lane {
  private running = 0;
  private readonly queue: (() => Promise<void>)[] = [];
  private waiters: (() => void)[] = [];

  constructor(
    readonly limit: number,
    private readonly onError: (e: unknown) => void,
  ) {}

  push(job: () => Promise<void>): void {
    this.queue.push(job);
    this.pump();
  }

  get busy(): boolean {
    return this.running > 0 || this.queue.length > 0;
  }

  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private pump(): void {
    while (this.running < this.limit && this.queue.length) {
      const job = this.queue.shift()!;
      this.running++;
      job()
        .catch((e: unknown) => this.onError(e))
        .finally(() => {
          this.running--;
          this.pump();
          if (!this.busy) for (const w of this.waiters.splice(0)) w();
        });
    }
  }
}
