import type { Emit } from '../../../core/anomaly.js';
import type { FloodConfig } from '../flood/config.js';
import { regionFloodAnomaly, regionFloods } from '../flood/rules.js';
import type { SilenceConfig } from '../silence/config.js';
import { regionOutageAnomaly, stepOutage } from '../silence/rules.js';
import { mergeFacts, regionKey, type FloodPartial, type RegionFacts, type RegionPartial, type SilencePartial } from './partials.js';

/** The thresholds: the same `detection.flood` and `detection.silence` sections the workers run. */
export interface RegionAggregatorConfig {
  flood: FloodConfig;
  silence: SilenceConfig;
}

export interface RegionAggregatorOptions {
  /** A source's partials are forgotten this long after its last report (e.g. 3x the report interval). */
  ttlMs: number;
  /** Clock `at` and the TTL are measured in, ms. */
  clock?: () => number;
}

/**
 * Region-level signals over several workers, each owning a subset of the devices: keeps the
 * latest region partials of each source (worker instance), sums them per sector-region and
 * applies the decisions of the single-process flood and silence detectors: `flood.region` once
 * per event-time window and region, `silence.region` once per outage (re-armed below half the
 * ratio). A source that stops reporting drops out after the TTL.
 */
export class RegionAggregator {
  private readonly sources = new Map<string, { at: number; partials: RegionPartial[] }>();
  /** The newest window a region flood fired in, per region. */
  private readonly flooded = new Map<string, number>();
  /** Regions in outage. */
  private readonly down = new Set<string>();
  private readonly ttlMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly cfg: RegionAggregatorConfig,
    opts: RegionAggregatorOptions,
  ) {
    this.ttlMs = opts.ttlMs;
    this.clock = opts.clock ?? Date.now;
  }

  /** Replaces the partials of `source` with its report made (or received) at `at`. Older reports are ignored. */
  add(source: string, partials: RegionPartial[], at: number = this.clock()): void {
    const prev = this.sources.get(source);
    if (prev && prev.at > at) return;
    this.sources.set(source, { at, partials });
  }

  /** Forgets a source now (e.g. a worker that shut down cleanly). */
  remove(source: string): void {
    this.sources.delete(source);
  }

  /** The sources whose partials are live at `now`. */
  live(now: number = this.clock()): string[] {
    this.expire(now);
    return [...this.sources.keys()];
  }

  /** Judges the summed partials and emits the region anomalies due. */
  evaluate(emit: Emit, now: number = this.clock()): void {
    const { flood, silence } = this.sums(now);
    for (const [key, g] of flood) {
      if (!regionFloods(this.cfg.flood, g.n, g.expected, g.pairs) || (this.flooded.get(key) ?? -Infinity) >= g.window) continue;
      this.flooded.set(key, g.window);
      emit(regionFloodAnomaly(this.cfg.flood, g.facts, g.n, g.expected, g.eventMs));
    }
    for (const [key, g] of silence) {
      if (stepOutage(this.cfg.silence, this.down, key, g.silent, g.total)) emit(regionOutageAnomaly(g.facts, g.silent, g.total, g.watermark));
    }
  }

  /** Devices online (known and not silent) per `sector/region`, summed over the live sources. */
  devicesOnline(now: number = this.clock()): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, g] of this.sums(now).silence) out[key] = g.total - g.silent;
    return out;
  }

  private expire(now: number): void {
    for (const [source, s] of this.sources) if (now - s.at > this.ttlMs) this.sources.delete(source);
  }

  /** The live partials summed per region: flood counts of each region's newest window, silence counts. */
  private sums(now: number): { flood: Map<string, FloodSum>; silence: Map<string, SilenceSum> } {
    this.expire(now);
    const flood = new Map<string, FloodSum>();
    const silence = new Map<string, SilenceSum>();
    for (const { partials } of this.sources.values()) {
      for (const p of partials) {
        if (p.detector === 'flood') addFlood(flood, p);
        else addSilence(silence, p);
      }
    }
    return { flood, silence };
  }
}

interface FloodSum {
  facts: RegionFacts;
  window: number;
  n: number;
  expected: number;
  pairs: number;
  eventMs: number;
}

interface SilenceSum {
  facts: RegionFacts;
  total: number;
  silent: number;
  watermark: number;
}

function addFlood(into: Map<string, FloodSum>, p: FloodPartial): void {
  const key = regionKey(p);
  const g = into.get(key);
  if (!g) {
    into.set(key, { facts: mergeFacts(undefined, p), window: p.window, n: p.n, expected: p.expected, pairs: p.pairs, eventMs: p.eventMs });
    return;
  }
  mergeFacts(g.facts, p);
  g.expected += p.expected;
  g.pairs += p.pairs;
  // Only the counts of the region's newest window add up: a source behind has seen none of it.
  if (p.window > g.window) Object.assign(g, { window: p.window, n: p.n, eventMs: p.eventMs });
  else if (p.window === g.window) {
    g.n += p.n;
    g.eventMs = Math.max(g.eventMs, p.eventMs);
  }
}

function addSilence(into: Map<string, SilenceSum>, p: SilencePartial): void {
  const key = regionKey(p);
  const g = into.get(key);
  if (!g) {
    into.set(key, { facts: mergeFacts(undefined, p), total: p.total, silent: p.silent, watermark: p.watermark });
    return;
  }
  mergeFacts(g.facts, p);
  g.total += p.total;
  g.silent += p.silent;
  g.watermark = Math.max(g.watermark, p.watermark);
}
