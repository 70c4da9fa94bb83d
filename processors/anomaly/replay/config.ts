/** Config of the replay / sequence processor (pipeline.yaml `detection.replay`). */
import type { FromSchema } from 'json-schema-to-ts';

export const replaySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    staleMs: { type: 'integer', minimum: 0, default: 3600000, description: 'A reading older than the watermark by more than this is stale (replayed old data).' },
  },
} as const;

export type ReplayConfig = FromSchema<typeof replaySchema>;
