/** Config of the flatline processor (pipeline.yaml `detection.flatline`). */
import type { FromSchema } from 'json-schema-to-ts';

export const flatlineSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    minCount: { type: 'integer', minimum: 2, default: 12, description: 'Identical readings in a row that make a stuck sensor.' },
    minDurationMs: { type: 'integer', minimum: 0, default: 60000, description: 'And at least this long (event time).' },
    fields: {
      type: 'object',
      description: 'Fields that are never constant in normal operation (noisy analogue values), per measurement.',
      additionalProperties: { type: 'array', items: { type: 'string' } },
      default: {
        agri_soil: ['moisture', 'temperature'],
        agri_weather: ['air_temperature', 'humidity'],
        v2x_rsu_status: ['cpu', 'temperature'],
        energy_meter: ['voltage_a', 'voltage_b', 'voltage_c', 'current_a'],
        energy_heat: ['flow_rate', 'supply_temp'],
        iiot_machine: ['vibration_rms', 'spindle_speed', 'temperature'],
      },
    },
  },
} as const;

export type FlatlineConfig = FromSchema<typeof flatlineSchema>;
