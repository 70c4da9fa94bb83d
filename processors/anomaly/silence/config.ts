/** Config of the silence (deadman) processor (pipeline.yaml `detection.silence`). */
import type { FromSchema } from 'json-schema-to-ts';

export const silenceSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    factor: { type: 'number', exclusiveMinimum: 1, default: 3, description: 'A device is silent after factor x the shortest updateCycle of its message types.' },
    minSilenceMs: { type: 'integer', minimum: 0, default: 15000, description: 'Never call a device silent sooner (V2X: 15 s without heartbeat).' },
    regionRatio: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.8, description: 'Share of a sector-region\'s devices silent at once that is a region outage.' },
    regionMinDevices: { type: 'integer', minimum: 1, default: 3, description: 'Region outage needs at least this many known devices.' },
    regionBucketMs: { type: 'integer', minimum: 1000, default: 10000, description: 'Scaled out (detection.regionPartials): event-time bucket in which workers report their region counts and the aggregator judges region outage; its time is within one bucket of the single process\'s.' },
  },
} as const;

export type SilenceConfig = FromSchema<typeof silenceSchema>;
