/** Config of the replay / sequence processor (pipeline.yaml `detection.replay`). */
export const replaySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    staleMs: { type: 'integer', minimum: 0, default: 3600000, description: 'A reading older than the watermark by more than this is stale (replayed old data).' },
  },
} as const;

export interface ReplayConfig {
  enabled: boolean;
  staleMs: number;
}
