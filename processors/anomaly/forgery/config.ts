/** Config of the forgery / spoofing processor (pipeline.yaml `detection.forgery`). */
export const forgerySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
  },
} as const;

export interface ForgeryConfig {
  enabled: boolean;
}
