/** Config of the forgery / spoofing processor (pipeline.yaml `detection.forgery`). */
import type { FromSchema } from 'json-schema-to-ts';

export const forgerySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
  },
} as const;

export type ForgeryConfig = FromSchema<typeof forgerySchema>;
