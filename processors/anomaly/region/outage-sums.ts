import type { Emit } from '../../../core/anomaly.js';
import type { SilenceConfig } from '../silence/config.js';
import { regionOutageAnomaly, stepOutage } from '../silence/rules.js';
import { MAX_LAG_BUCKETS, mergeFacts, regionKey, type RegionFacts, type SilencePartial } from './partials.js';

/** What one source reported of one region: its counts per bucket, oldest first. */
interface Source {
  at: number;
  records: SilencePartial[];
}

interface Region {
  sources: Map<string, Source>;
  /** Buckets up to this one are judged. */
  judged: number;
}

/**
 * Region outage over several sources, per event-time bucket. Bucket b of a region is judged
 * once every live source of the region has reported a later bucket (has moved past b): the
 * region's counts at b are the sum over the sources of each one's counts at its latest bucket
 * <= b (a source that did not tick in b still holds its earlier counts). The once-per-outage
 * latch steps through the judged buckets in order, so counts of different event times are never
 * summed and the result does not depend on when the reports came. A source that holds no
 * devices in the region, or lags more than MAX_LAG_BUCKETS behind its newest, holds nothing back.
 */
export class OutageSums {
  private readonly regions = new Map<string, Region>();

  constructor(
    private readonly cfg: SilenceConfig,
    /** Regions in outage (the latch of `stepOutage`). */
    private readonly down: Set<string>,
  ) {}

  add(source: string, p: SilencePartial, at: number): void {
    const key = regionKey(p);
    let r = this.regions.get(key);
    if (!r) this.regions.set(key, (r = { sources: new Map(), judged: -Infinity }));
    let s = r.sources.get(source);
    if (!s) r.sources.set(source, (s = { at, records: [] }));
    s.at = Math.max(s.at, at);
    // A later report of the same bucket is a later tick in it: it replaces the earlier.
    const i = lastUpTo(s.records, p.bucket);
    if (i >= 0 && s.records[i].bucket === p.bucket) s.records[i] = p;
    else s.records.splice(i + 1, 0, p);
  }

  /** Drops sources not heard of since `before`: they no longer hold back judgement. */
  expire(before: number): void {
    for (const r of this.regions.values()) for (const [source, s] of r.sources) if (s.at < before) r.sources.delete(source);
  }

  remove(source: string): void {
    for (const r of this.regions.values()) r.sources.delete(source);
  }

  /** Judges the buckets every live source has moved past, in order; emits the outages that begin. */
  judge(emit: Emit): void {
    for (const [key, r] of this.regions) {
      const sources = [...r.sources.values()];
      if (!sources.length) continue;
      const latest = (s: Source) => s.records.at(-1)!.bucket;
      const newest = Math.max(...sources.map(latest));
      const holding = sources.filter((s) => s.records.at(-1)!.total > 0).map(latest);
      const upTo = Math.max(holding.length ? Math.min(...holding) - 1 : newest, newest - MAX_LAG_BUCKETS);
      if (upTo <= r.judged) continue;
      // Only buckets where some source has a record: the sum changes nowhere else.
      const buckets = [...new Set(sources.flatMap((s) => s.records.map((q) => q.bucket)))].filter((b) => b > r.judged && b <= upTo).sort((a, b) => a - b);
      for (const b of buckets) {
        let total = 0;
        let silent = 0;
        let eventMs = -Infinity;
        let facts: RegionFacts | undefined;
        for (const s of sources) {
          const q = s.records[lastUpTo(s.records, b)];
          if (!q) continue;
          total += q.total;
          silent += q.silent;
          if (q.bucket === b) eventMs = Math.max(eventMs, q.watermark);
          if (q.total > 0) facts = mergeFacts(facts, q);
        }
        if (facts && stepOutage(this.cfg, this.down, key, silent, total)) emit(regionOutageAnomaly(facts, silent, total, eventMs));
      }
      r.judged = upTo;
      // Keep what later buckets still need: the latest record <= judged, and the newer ones.
      for (const s of sources) s.records.splice(0, Math.max(0, lastUpTo(s.records, upTo)));
    }
  }

  /** Devices online (known and not silent) per region: the live sources' newest counts. */
  online(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, r] of this.regions) {
      if (!r.sources.size) continue;
      out[key] = 0;
      for (const s of r.sources.values()) out[key] += s.records.at(-1)!.total - s.records.at(-1)!.silent;
    }
    return out;
  }
}

/** Index of the last record at bucket <= `b` (records oldest first); -1 when none. */
function lastUpTo(records: SilencePartial[], b: number): number {
  let i = records.length - 1;
  while (i >= 0 && records[i].bucket > b) i--;
  return i;
}
