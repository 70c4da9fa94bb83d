import type { DeadLetter } from './record.js';

/** Minutes kept for the "over time" view, and letters kept whole. */
const MINUTES = 60;
const LATEST = 100;

/** Counts of one minute: per reason and per source. */
export interface MinuteCounts {
  at: number;
  byReason: Record<string, number>;
  bySource: Record<string, number>;
}

/**
 * The console's view of the dead letters written since start: counts per minute by reason and
 * by source over the last hour, and the latest letters as stored (payloads already
 * pseudonymised when the message was rejected). The files on disk stay the durable record.
 */
export class RecentDeadLetters {
  private readonly minutes: MinuteCounts[] = [];
  private readonly latest: DeadLetter[] = [];
  private readonly totals = new Map<string, number>();

  add(letters: DeadLetter[], now = Date.now()): void {
    const minute = Math.floor(now / 60_000) * 60_000;
    let m = this.minutes.at(-1);
    if (!m || m.at !== minute) {
      m = { at: minute, byReason: {}, bySource: {} };
      this.minutes.push(m);
      while (this.minutes.length && this.minutes[0].at <= minute - MINUTES * 60_000) this.minutes.shift();
    }
    for (const l of letters) {
      m.byReason[l.reason] = (m.byReason[l.reason] ?? 0) + 1;
      m.bySource[l.source] = (m.bySource[l.source] ?? 0) + 1;
      this.totals.set(l.reason, (this.totals.get(l.reason) ?? 0) + 1);
      this.latest.push(l);
    }
    if (this.latest.length > LATEST) this.latest.splice(0, this.latest.length - LATEST);
  }

  /** The last hour by minute (oldest first), totals by reason since start, the latest letters (newest first). */
  snapshot(limit = LATEST, now = Date.now()) {
    const from = Math.floor(now / 60_000) * 60_000 - (MINUTES - 1) * 60_000;
    return {
      minutes: this.minutes.filter((m) => m.at >= from),
      totals: Object.fromEntries(this.totals),
      latest: this.latest.slice(-limit).reverse(),
    };
  }
}
