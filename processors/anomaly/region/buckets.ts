import { MAX_LAG_BUCKETS, type RegionFacts, type SilencePartial } from './partials.js';

/** One region's counts at one tick. */
export interface TickCounts {
  facts: RegionFacts;
  total: number;
  silent: number;
}

/**
 * The silence counts of each region at one worker, per event-time bucket of its ticks, for
 * SilencePartials: the last tick in each bucket since the last `take`, and the newest tick.
 * A tick's time never goes back (the watermark may step back a little when data arrives after
 * an idle stretch), so a worker's buckets only move on.
 */
export class RegionBuckets {
  /** Region -> bucket -> the last tick's counts in it, since the last `take`. */
  private readonly pending = new Map<string, Map<number, SilencePartial>>();
  /** The newest tick's counts, per region it saw. */
  private newest = new Map<string, SilencePartial>();
  private at = -Infinity;

  constructor(private readonly bucketMs: number) {}

  /**
   * Records one tick's counts per region key. A region the previous tick saw and this one does
   * not (its devices handed over or expired) is recorded once with no devices, so the aggregator
   * neither counts them here nor waits for this worker in that region.
   */
  tick(watermark: number, regions: Map<string, TickCounts>): void {
    this.at = Math.max(this.at, watermark);
    const bucket = Math.floor(this.at / this.bucketMs);
    const now = new Map<string, SilencePartial>();
    for (const [key, g] of regions) now.set(key, { detector: 'silence', ...g.facts, watermark: this.at, bucket, total: g.total, silent: g.silent });
    for (const [key, p] of this.newest) if (!now.has(key) && p.total > 0) now.set(key, { ...p, watermark: this.at, bucket, total: 0, silent: 0 });
    for (const [key, p] of now) {
      const m = this.pendingOf(key);
      m.set(bucket, p);
      // Reports stalled: the oldest go (the aggregator holds the counts before them instead).
      if (m.size > MAX_LAG_BUCKETS) m.delete(m.keys().next().value!);
    }
    this.newest = now;
  }

  /** Takes the buckets ticked since the last call, and the newest tick's, oldest first per region. */
  take(): SilencePartial[] {
    for (const [key, p] of this.newest) this.pendingOf(key).set(p.bucket, p);
    const out = [...this.pending.values()].flatMap((m) => [...m.values()].map((p) => ({ ...p })));
    this.pending.clear();
    return out;
  }

  private pendingOf(key: string): Map<number, SilencePartial> {
    let m = this.pending.get(key);
    if (!m) this.pending.set(key, (m = new Map<number, SilencePartial>()));
    return m;
  }
}
