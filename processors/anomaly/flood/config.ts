/** Config of the flood processor (pipeline.yaml `detection.flood`). */
import type { FromSchema } from 'json-schema-to-ts';

export const floodSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    windowMs: { type: 'integer', minimum: 1000, default: 60000, description: 'Event-time window messages are counted in.' },
    factor: { type: 'number', exclusiveMinimum: 1, default: 10, description: 'A device (or sector-region) sending more than factor x its expected count per window floods.' },
    slack: { type: 'number', minimum: 0, default: 10, description: 'Messages per window always allowed on top (slow devices).' },
  },
} as const;

export type FloodConfig = FromSchema<typeof floodSchema>;
