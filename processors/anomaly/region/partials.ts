import { higherGrade, type Grade } from '../../../core/catalogue.js';

/**
 * Region partials: what one worker knows about a sector-region, for a `RegionAggregator` that
 * sums the partials of all workers (each owning a subset of the devices) into region-level
 * signals. Plain JSON: numbers, strings and booleans only.
 */

/**
 * Flood windows kept behind a region's newest, at the worker (once reported) and at the
 * aggregator: counts from partitions or workers up to this far behind still add up (an hour at
 * the default 1-min window). Older windows are dropped, and a reading there is not counted.
 */
export const KEEP_WINDOWS = 60;

/**
 * Silence buckets a source may lag behind a region's newest before it no longer holds back
 * judgement (an hour at the default 10-s bucket): bounds what the aggregator keeps, and what a
 * worker keeps between two reports.
 */
export const MAX_LAG_BUCKETS = 360;

/** What a region-wide anomaly is tagged with. */
export interface RegionFacts {
  sector: string;
  region: string;
  /** Catalogue resource code (of the highest-graded data seen there). */
  code?: string;
  /** The highest grade of the data seen there. */
  grade: Grade;
  /** Whether any device seen there is critical infrastructure. */
  criticalInfrastructure: boolean;
}

/**
 * The flood count of one region in one event-time window at one worker: one per window counted
 * since the worker's last report (the count of the window so far, which only grows), and one
 * for the region's newest window in every report (so expected, pairs and liveness flow on).
 */
export interface FloodPartial extends RegionFacts {
  detector: 'flood';
  /** The reporting worker's event-time watermark, ms. */
  watermark: number;
  /** Event-time window index the count belongs to: floor(eventMs / flood.windowMs). */
  window: number;
  /** Messages counted in that window so far. */
  n: number;
  /** Expected messages per window: the sum over the device/type pairs seen in the region. */
  expected: number;
  /** Device/type pairs seen in the region. */
  pairs: number;
  /** Newest event time counted in the window, ms. */
  eventMs: number;
}

/**
 * The silence counts of one region at one worker in one event-time bucket, as the worker's last
 * tick in that bucket saw them: one per bucket ticked since the worker's last report, and the
 * worker's newest tick in every report (so the aggregator knows how far the worker has come).
 */
export interface SilencePartial extends RegionFacts {
  detector: 'silence';
  /** The watermark of the tick the counts were taken at, ms. */
  watermark: number;
  /** Event-time bucket of that tick: floor(watermark / silence.regionBucketMs). */
  bucket: number;
  /** Devices known (holding state) in the region; 0 once the worker holds none there (handed over or expired). */
  total: number;
  /** Of those, silent at that tick (each judged at its own watermark). */
  silent: number;
}

export type RegionPartial = FloodPartial | SilencePartial;

/** A detector that can report region partials (flood, silence). */
export interface RegionPartialSource {
  /**
   * What changed since the last call (see FloodPartial, SilencePartial): a call takes it, so a
   * worker has one caller, its report timer. `watermark` is the engine's watermark now.
   */
  regionPartials(watermark: number): RegionPartial[];
}

export function reportsRegions<D extends object>(d: D): d is D & RegionPartialSource {
  return typeof (d as Partial<RegionPartialSource>).regionPartials === 'function';
}

/** The key of a sector-region: `sector/region`. */
export const regionKey = (f: { sector: string; region: string }): string => `${f.sector}/${f.region}`;

/**
 * Merges `more` into `into` (a new object when `into` is undefined): the higher grade with its
 * code, critical infrastructure if either is.
 */
export function mergeFacts(into: RegionFacts | undefined, more: RegionFacts): RegionFacts {
  if (!into) return { sector: more.sector, region: more.region, code: more.code, grade: more.grade, criticalInfrastructure: more.criticalInfrastructure };
  const grade = higherGrade(into.grade, more.grade);
  if (grade !== into.grade || into.code === undefined) into.code = more.code ?? into.code;
  into.grade = grade;
  into.criticalInfrastructure ||= more.criticalInfrastructure;
  return into;
}
