/** Config of the range processor (pipeline.yaml `detection.range`). */
import type { FromSchema } from 'json-schema-to-ts';

export const rangeSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    operating: {
      type: 'object',
      description: 'Operating limits inside the physical range, per measurement and field: [low, high]. Physical ranges come from the catalogue schema.',
      additionalProperties: { type: 'object', additionalProperties: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } },
      default: {
        // GB/T 12325: 220 V +7 % / -10 %; grid frequency 50 Hz +- 0.2 Hz.
        energy_meter: { voltage_a: [198, 235.4], voltage_b: [198, 235.4], voltage_c: [198, 235.4], frequency: [49.8, 50.2] },
        // ISO 10816-3 zone D (damage) for medium machines starts at 4.5 mm/s.
        iiot_machine: { vibration_rms: [0, 4.5] },
      },
    },
    consecutive: { type: 'integer', minimum: 1, default: 3, description: 'Readings in a row outside the operating limits before it counts (noise must not page anyone).' },
  },
} as const;

export type RangeConfig = FromSchema<typeof rangeSchema>;
