import type { Emit } from '../../../core/anomaly.js';
import type { FloodConfig } from '../flood/config.js';
import { regionFloodAnomaly, regionFloods } from '../flood/rules.js';
import { KEEP_WINDOWS, mergeFacts, regionKey, type FloodPartial, type RegionFacts } from './partials.js';
import type { WindowCount } from './windows.js';

/** What one source reported of one region. */
interface Source {
  at: number;
  watermark: number;
  facts: RegionFacts;
  expected: number;
  pairs: number;
  /** Its latest count of each window. */
  windows: Map<number, WindowCount>;
}

interface Region {
  sources: Map<string, Source>;
  /** Windows that fired (none below `floor`). */
  fired: Set<number>;
  /** Windows below are dropped: not counted, not judged. */
  floor: number;
  /** Reported to since the last judgement. */
  dirty: boolean;
}

/**
 * Region flood over several sources, per event-time window: each source's latest count of each
 * window (counts only grow, so the larger one is the later), summed per window over the live
 * sources. A window fires once, when its sum first crosses (`regionFloods`), whenever its counts
 * arrive. Windows more than KEEP_WINDOWS behind a region's newest are dropped.
 */
export class FloodSums {
  private readonly regions = new Map<string, Region>();

  constructor(private readonly cfg: FloodConfig) {}

  add(source: string, p: FloodPartial, at: number): void {
    const key = regionKey(p);
    let r = this.regions.get(key);
    if (!r) this.regions.set(key, (r = { sources: new Map(), fired: new Set(), floor: -Infinity, dirty: false }));
    let s = r.sources.get(source);
    if (!s) r.sources.set(source, (s = { at, watermark: -Infinity, facts: mergeFacts(undefined, p), expected: 0, pairs: 0, windows: new Map() }));
    s.at = Math.max(s.at, at);
    if (p.watermark >= s.watermark) Object.assign(s, { watermark: p.watermark, facts: mergeFacts(undefined, p), expected: p.expected, pairs: p.pairs });
    const c = s.windows.get(p.window);
    if (p.window >= r.floor && (!c || p.n >= c.n)) s.windows.set(p.window, { n: p.n, eventMs: p.eventMs });
    r.dirty = true;
  }

  /** Drops sources not heard of since `before`. */
  expire(before: number): void {
    for (const r of this.regions.values()) for (const [source, s] of r.sources) if (s.at < before) r.sources.delete(source);
  }

  remove(source: string): void {
    for (const r of this.regions.values()) r.sources.delete(source);
  }

  /** Emits the floods of the windows reported to since the last call. */
  judge(emit: Emit): void {
    for (const r of this.regions.values()) {
      if (!r.dirty) continue;
      r.dirty = false;
      const live = [...r.sources.values()];
      if (!live.length) continue;
      // Expected and pairs are the region's, whichever window: every source's devices were expected to send.
      const expected = live.reduce((a, s) => a + s.expected, 0);
      const pairs = live.reduce((a, s) => a + s.pairs, 0);
      const windows = [...new Set(live.flatMap((s) => [...s.windows.keys()]))].sort((a, b) => a - b);
      for (const w of windows) {
        if (r.fired.has(w)) continue;
        let n = 0;
        let eventMs = -Infinity;
        let facts: RegionFacts | undefined;
        for (const s of live) {
          const c = s.windows.get(w);
          if (!c) continue;
          n += c.n;
          eventMs = Math.max(eventMs, c.eventMs);
          facts = mergeFacts(facts, s.facts);
        }
        if (!facts || !regionFloods(this.cfg, n, expected, pairs)) continue;
        r.fired.add(w);
        emit(regionFloodAnomaly(this.cfg, facts, n, expected, eventMs));
      }
      this.prune(r, windows.at(-1) ?? -Infinity);
    }
  }

  private prune(r: Region, newest: number): void {
    r.floor = Math.max(r.floor, newest - KEEP_WINDOWS);
    for (const s of r.sources.values()) for (const w of s.windows.keys()) if (w < r.floor) s.windows.delete(w);
    for (const w of r.fired) if (w < r.floor) r.fired.delete(w);
  }
}
