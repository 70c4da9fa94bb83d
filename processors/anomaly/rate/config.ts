/** Config of the rate-of-change processor (pipeline.yaml `detection.rate`). */
import type { FromSchema } from 'json-schema-to-ts';

export const rateSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    limits: {
      type: 'object',
      description: 'measurement -> field -> [abs, perSecond]: a change between consecutive readings larger than abs + perSecond * seconds between them is physically impossible (abs covers sensor noise).',
      additionalProperties: { type: 'object', additionalProperties: { type: 'array', items: { type: 'number', minimum: 0 }, minItems: 2, maxItems: 2 } },
      default: {
        agri_soil: { temperature: [5, 0.01], moisture: [15, 0.05], ph: [1, 0.001] },
        agri_weather: { air_temperature: [8, 0.02], humidity: [30, 0.1] },
        v2x_rsu_status: { temperature: [10, 0.05] },
        energy_heat: { supply_temp: [10, 0.02], return_temp: [10, 0.02] },
        iiot_machine: { temperature: [15, 0.05] },
      },
    },
  },
} as const;

export type RateConfig = FromSchema<typeof rateSchema>;
