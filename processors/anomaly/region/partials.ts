import { higherGrade, type Grade } from '../../../core/catalogue.js';

/**
 * Region partials: what one worker knows about a sector-region, for a `RegionAggregator` that
 * sums the partials of all workers (each owning a subset of the devices) into region-level
 * signals. Plain JSON: numbers, strings and booleans only.
 */

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

/** The flood counts of one region at one worker. */
export interface FloodPartial extends RegionFacts {
  detector: 'flood';
  /** The reporting worker's event-time watermark, ms. */
  watermark: number;
  /** Event-time window index the count belongs to: floor(eventMs / flood.windowMs). */
  window: number;
  /** Messages counted in that window. */
  n: number;
  /** Expected messages per window: the sum over the device/type pairs seen in the region. */
  expected: number;
  /** Device/type pairs seen in the region. */
  pairs: number;
  /** Newest event time counted in the window, ms. */
  eventMs: number;
}

/** The silence counts of one region at one worker, at its watermark. */
export interface SilencePartial extends RegionFacts {
  detector: 'silence';
  /** The reporting worker's event-time watermark, ms: the time the counts hold at. */
  watermark: number;
  /** Devices known (holding state) in the region. */
  total: number;
  /** Of those, silent at the watermark. */
  silent: number;
}

export type RegionPartial = FloodPartial | SilencePartial;

/** A detector that can report region partials (flood, silence). */
export interface RegionPartialSource {
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
