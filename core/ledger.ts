import type { RejectReason, SourceKey } from './types.js';

/** Completeness counts of one source (sector/region/messageType). */
export interface SourceCounts {
  received: number;
  stored: number;
  deadLettered: number;
  /** Currently held in the durable spool, waiting for InfluxDB. */
  inSpool: number;
  /** Handed back to the source unsettled (nacked), which redelivers them (a later delivery counts anew). */
  nacked: number;
}

/** The key every source past the ledger's cap is counted under. */
export const OVERFLOW_SOURCE: SourceKey = '_other/_/_';

export interface LedgerOptions {
  /** Most distinct source keys kept (default 10,000); later ones are counted under OVERFLOW_SOURCE. */
  maxSources?: number;
}

/**
 * The completeness ledger: per source, what came in and where it went. Only the delivery
 * runtime (core/runtime) counts, each delivery once, at the moment its outcome is durable. After
 * every message is settled, received = stored + deadLettered + inSpool + nacked for each source.
 * Counts are for this process's lifetime, except inSpool, which is restored from the spool.
 *
 * Bounded: the key comes from the topic, which any client picks, so at most `maxSources` keys
 * are kept (first come; none is ever dropped) and every later key is counted under
 * OVERFLOW_SOURCE. A key's place never changes (once full, always full), so each key's counts
 * stay in one place and balance there; totals stay exact.
 */
export class Ledger {
  private readonly sources = new Map<SourceKey, SourceCounts>();
  private readonly reasons = new Map<RejectReason, number>();
  private readonly overflow: SourceCounts = { received: 0, stored: 0, deadLettered: 0, inSpool: 0, nacked: 0 };
  private readonly maxSources: number;
  /** Deliveries counted under OVERFLOW_SOURCE because their own key found no room. */
  private folded = 0;

  constructor(opts: LedgerOptions = {}) {
    this.maxSources = opts.maxSources ?? 10_000;
  }

  private get(source: SourceKey): SourceCounts {
    let c = this.sources.get(source);
    if (!c) {
      if (source === OVERFLOW_SOURCE || this.sources.size >= this.maxSources) return this.overflow;
      c = { received: 0, stored: 0, deadLettered: 0, inSpool: 0, nacked: 0 };
      this.sources.set(source, c);
    }
    return c;
  }

  received(source: SourceKey, n = 1): void {
    const c = this.get(source);
    if (c === this.overflow && source !== OVERFLOW_SOURCE) this.folded += n;
    c.received += n;
  }
  stored(source: SourceKey, n = 1): void {
    this.get(source).stored += n;
  }
  deadLettered(source: SourceKey, reason: RejectReason, n = 1): void {
    this.get(source).deadLettered += n;
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + n);
  }
  nacked(source: SourceKey, n = 1): void {
    this.get(source).nacked += n;
  }
  spooled(source: SourceKey, n: number): void {
    this.get(source).inSpool += n;
  }
  /** Points taken out of the spool into InfluxDB. */
  replayed(source: SourceKey, n: number): void {
    const c = this.get(source);
    c.inSpool -= n;
    c.stored += n;
  }

  /** Spooled points InfluxDB refused on replay: moved to the dead letters. */
  spoolRefused(source: SourceKey, n: number): void {
    const c = this.get(source);
    c.inSpool -= n;
    c.deadLettered += n;
    this.reasons.set('storage_rejected', (this.reasons.get('storage_rejected') ?? 0) + n);
  }

  totals(): SourceCounts {
    const t = { ...this.overflow };
    for (const c of this.sources.values()) {
      t.received += c.received;
      t.stored += c.stored;
      t.deadLettered += c.deadLettered;
      t.inSpool += c.inSpool;
      t.nacked += c.nacked;
    }
    return t;
  }

  /** `sources` holds at most `maxSources` keys, plus OVERFLOW_SOURCE once anything went there. */
  snapshot(): { totals: SourceCounts; sources: Record<SourceKey, SourceCounts>; reasons: Record<string, number>; overflow: { maxSources: number; folded: number } } {
    const sources = Object.fromEntries([...this.sources].map(([k, v]) => [k, { ...v }]));
    if (Object.values(this.overflow).some(Boolean)) sources[OVERFLOW_SOURCE] = { ...this.overflow };
    return {
      totals: this.totals(),
      sources,
      reasons: Object.fromEntries(this.reasons),
      overflow: { maxSources: this.maxSources, folded: this.folded },
    };
  }
}
