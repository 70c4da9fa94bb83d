/** Config of the energy consistency processor (pipeline.yaml `detection.energy`). */
import type { FromSchema } from 'json-schema-to-ts';

export const energySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    powerTolerance: { type: 'number', minimum: 0, default: 0.15, description: 'Relative gap between active power and sum of V x I x PF that is inconsistent.' },
    powerToleranceKw: { type: 'number', minimum: 0, default: 0.5, description: 'Absolute gap always tolerated (rounding, light load).' },
    meters: { type: 'array', items: { type: 'string' }, default: ['energy_meter'], description: 'Measurements with voltage_x, current_x, power_factor, active_power.' },
    counters: {
      type: 'object',
      description: 'Cumulative counters that never decrease, per measurement.',
      additionalProperties: { type: 'array', items: { type: 'string' } },
      default: { energy_meter: ['energy_total'], energy_heat: ['heat_total'], iiot_machine: ['good_count', 'reject_count'] },
    },
  },
} as const;

export type EnergyConfig = FromSchema<typeof energySchema>;
