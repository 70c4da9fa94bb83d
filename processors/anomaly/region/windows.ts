import { KEEP_WINDOWS } from './partials.js';

/** A window's count so far and the newest event time counted in it. */
export interface WindowCount {
  n: number;
  eventMs: number;
}

/**
 * The flood counts of one region at one worker, per event-time window, for FloodPartials.
 * Holds the windows not reported yet and the newest KEEP_WINDOWS + 1, so memory is bounded by
 * the readings between two reports.
 */
export class RegionWindows {
  private readonly counts = new Map<number, WindowCount>();
  private readonly changed = new Set<number>();
  private newest = -Infinity;

  /** Counts a reading of `window` at `eventMs`; not when the window is dropped already (too far behind). */
  count(window: number, eventMs: number): void {
    let c = this.counts.get(window);
    if (!c) {
      // A dropped window restarting from 1 would under-count it at the aggregator (it keeps the larger count).
      if (window < this.newest - KEEP_WINDOWS) return;
      this.counts.set(window, (c = { n: 0, eventMs }));
    }
    c.n++;
    c.eventMs = Math.max(c.eventMs, eventMs);
    this.changed.add(window);
    this.newest = Math.max(this.newest, window);
  }

  /**
   * Takes the windows counted since the last call and the newest one, oldest first (copies);
   * then drops the windows more than KEEP_WINDOWS behind the newest.
   */
  take(): [window: number, count: WindowCount][] {
    if (this.newest === -Infinity) return [];
    this.changed.add(this.newest);
    const out = [...this.changed].sort((a, b) => a - b).map((w): [number, WindowCount] => [w, { ...this.counts.get(w)! }]);
    this.changed.clear();
    for (const w of this.counts.keys()) if (w < this.newest - KEEP_WINDOWS) this.counts.delete(w);
    return out;
  }
}
