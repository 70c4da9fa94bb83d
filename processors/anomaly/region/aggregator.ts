import type { Emit } from '../../../core/anomaly.js';
import type { FloodConfig } from '../flood/config.js';
import type { SilenceConfig } from '../silence/config.js';
import { FloodSums } from './flood-sums.js';
import { OutageSums } from './outage-sums.js';
import type { RegionPartial } from './partials.js';

/** The thresholds: the same `detection.flood` and `detection.silence` sections the workers run. */
export interface RegionAggregatorConfig {
  flood: FloodConfig;
  silence: SilenceConfig;
}

export interface RegionAggregatorOptions {
  /** A source's partials of a region are forgotten this long after it last reported that region (e.g. 3x the report interval). */
  ttlMs: number;
  /** Clock `at` and the TTL are measured in, ms. */
  clock?: () => number;
}

/**
 * Region-level signals over several workers, each owning a subset of the devices. Sources
 * (worker instances) report what changed since their last report (see FloodPartial and
 * SilencePartial); the aggregator sums them per sector-region in event time, so the result does
 * not depend on when the reports came: `flood.region` once per event-time window and region
 * (FloodSums), `silence.region` once per outage, judged per event-time bucket once every live
 * source has moved past it (OutageSums). A source that stops reporting a region drops out of it
 * after the TTL, and then holds nothing back. `add` and `evaluate` are called from one thread
 * (never overlapping); reports of a source must come in the order it made them.
 */
export class RegionAggregator {
  /** When each source last reported. */
  private readonly seen = new Map<string, number>();
  /** Regions in outage. */
  private readonly down = new Set<string>();
  private readonly flood: FloodSums;
  private readonly outage: OutageSums;
  private readonly ttlMs: number;
  private readonly clock: () => number;

  constructor(cfg: RegionAggregatorConfig, opts: RegionAggregatorOptions) {
    this.flood = new FloodSums(cfg.flood);
    this.outage = new OutageSums(cfg.silence, this.down);
    this.ttlMs = opts.ttlMs;
    this.clock = opts.clock ?? Date.now;
  }

  /** Merges the report of `source` made (or received) at `at` into what it reported before. */
  add(source: string, partials: RegionPartial[], at: number = this.clock()): void {
    this.seen.set(source, Math.max(this.seen.get(source) ?? at, at));
    for (const p of partials) {
      if (p.detector === 'flood') this.flood.add(source, p, at);
      else this.outage.add(source, p, at);
    }
  }

  /** Forgets a source now (e.g. a worker that shut down cleanly). */
  remove(source: string): void {
    this.seen.delete(source);
    this.flood.remove(source);
    this.outage.remove(source);
  }

  /** The sources whose partials are live at `now`. */
  live(now: number = this.clock()): string[] {
    this.expire(now);
    return [...this.seen.keys()];
  }

  /** Judges what the live sources reported and emits the region anomalies due. */
  evaluate(emit: Emit, now: number = this.clock()): void {
    this.expire(now);
    this.flood.judge(emit);
    this.outage.judge(emit);
  }

  /** Devices online (known and not silent) per `sector/region`: the live sources' newest counts, summed. */
  devicesOnline(now: number = this.clock()): Record<string, number> {
    this.expire(now);
    return this.outage.online();
  }

  private expire(now: number): void {
    const before = now - this.ttlMs;
    for (const [source, at] of this.seen) if (at < before) this.seen.delete(source);
    this.flood.expire(before);
    this.outage.expire(before);
  }
}
