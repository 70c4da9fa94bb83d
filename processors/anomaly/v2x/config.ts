/** Config of the V2X position plausibility processor (pipeline.yaml `detection.v2x`). */
import type { FromSchema } from 'json-schema-to-ts';

export const v2xSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    maxSpeed: { type: 'number', exclusiveMinimum: 0, default: 70, description: 'm/s; a road vehicle faster than this (252 km/h) is implausible.' },
    minJumpM: { type: 'number', minimum: 0, default: 50, description: 'Jumps shorter than this are GPS noise.' },
    maxGapMs: { type: 'integer', minimum: 0, default: 60000, description: 'Positions further apart in time are not compared.' },
    measurements: { type: 'array', items: { type: 'string' }, default: ['v2x_bsm'] },
  },
} as const;

export type V2xConfig = FromSchema<typeof v2xSchema>;
