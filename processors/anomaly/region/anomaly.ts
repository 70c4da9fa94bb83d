import type { Anomaly } from '../../../core/anomaly.js';
import type { RegionFacts } from './partials.js';

/** What a region anomaly says beyond its region's facts. */
export type RegionFields = Pick<Anomaly, 'detector' | 'kind' | 'category' | 'eventMs' | 'value' | 'detail'>;

/**
 * A region-wide anomaly (no device): the shape `flood.region` and `silence.region` share,
 * whether a detector or the RegionAggregator raises it. Region-wide escalates one level.
 */
export function regionAnomaly(f: RegionFacts, fields: RegionFields): Anomaly {
  return {
    detector: fields.detector,
    kind: fields.kind,
    category: fields.category,
    baseLevel: 4,
    sector: f.sector,
    region: f.region,
    code: f.code,
    grade: f.grade,
    criticalInfrastructure: f.criticalInfrastructure,
    regionWide: true,
    eventMs: fields.eventMs,
    value: fields.value,
    detail: fields.detail,
  };
}
