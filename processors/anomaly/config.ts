import type { FromSchema } from 'json-schema-to-ts';
import { energySchema } from './energy/config.js';
import { flatlineSchema } from './flatline/config.js';
import { floodSchema } from './flood/config.js';
import { forgerySchema } from './forgery/config.js';
import { rangeSchema } from './range/config.js';
import { rateSchema } from './rate/config.js';
import { replaySchema } from './replay/config.js';
import { silenceSchema } from './silence/config.js';
import { spikeSchema } from './spike/config.js';
import { v2xSchema } from './v2x/config.js';

/** pipeline.yaml `detection`: the engine's settings plus each processor's own section. */
export const detectionSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true, description: 'Run the anomaly processors at all.' },
    allowedLatenessMs: { type: 'integer', minimum: 0, default: 60000, description: 'Out-of-order readings up to this far behind their device are still scored; later ones are counted as late and not scored.' },
    stateTtlMs: { type: 'integer', minimum: 60000, default: 86400000, description: 'State of a device silent this long (event time) is dropped.' },
    tickMs: { type: 'integer', minimum: 10, default: 1000, description: 'How often absence (silence) is judged and state expired.' },
    regionPartials: { type: 'boolean', default: false, description: 'Scaled out (each worker owns a subset of the devices): flood and silence raise no region anomalies themselves; the engine reports region partials (DetectionEngine.regionPartials) for a RegionAggregator to judge over all workers.' },
    range: rangeSchema,
    spike: spikeSchema,
    rate: rateSchema,
    flatline: flatlineSchema,
    silence: silenceSchema,
    replay: replaySchema,
    forgery: forgerySchema,
    flood: floodSchema,
    v2x: v2xSchema,
    energy: energySchema,
  },
} as const;

export type DetectionConfig = FromSchema<typeof detectionSchema>;
