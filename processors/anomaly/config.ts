import { energySchema, type EnergyConfig } from './energy/config.js';
import { flatlineSchema, type FlatlineConfig } from './flatline/config.js';
import { floodSchema, type FloodConfig } from './flood/config.js';
import { forgerySchema, type ForgeryConfig } from './forgery/config.js';
import { rangeSchema, type RangeConfig } from './range/config.js';
import { rateSchema, type RateConfig } from './rate/config.js';
import { replaySchema, type ReplayConfig } from './replay/config.js';
import { silenceSchema, type SilenceConfig } from './silence/config.js';
import { spikeSchema, type SpikeConfig } from './spike/config.js';
import { v2xSchema, type V2xConfig } from './v2x/config.js';

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

export interface DetectionConfig {
  enabled: boolean;
  allowedLatenessMs: number;
  stateTtlMs: number;
  tickMs: number;
  range: RangeConfig;
  spike: SpikeConfig;
  rate: RateConfig;
  flatline: FlatlineConfig;
  silence: SilenceConfig;
  replay: ReplayConfig;
  forgery: ForgeryConfig;
  flood: FloodConfig;
  v2x: V2xConfig;
  energy: EnergyConfig;
}
