import { StoppedError } from '../errors.js';

/**
 * Lets long waits end early when the runtime stops: `sleep` resolves after `ms`, or rejects with
 * StoppedError as soon as `stop()` is called, so no retry loop outlives shutdown.
 */
export class Stopper {
  private readonly controller = new AbortController();

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  stop(): void {
    this.controller.abort();
  }

  /** Throws StoppedError once stopped. */
  check(): void {
    if (this.stopped) throw new StoppedError();
  }

  sleep(ms: number): Promise<void> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.reject(new StoppedError());
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(new StoppedError());
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
