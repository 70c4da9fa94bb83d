/** Config of the spike / level-shift processor (pipeline.yaml `detection.spike`). */
import type { FromSchema } from 'json-schema-to-ts';

export const spikeSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    alpha: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.2, description: 'Smoothing of the level (Holt).' },
    beta: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.05, description: 'Smoothing of the trend (Holt): follows daily cycles without lag.' },
    devAlpha: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.02, description: 'Smoothing of the mean absolute residual (the noise scale).' },
    warmup: { type: 'integer', minimum: 2, default: 30, description: 'Readings before a series is scored.' },
    spikeZ: { type: 'number', exclusiveMinimum: 0, default: 7, description: 'Robust z-score of one reading that is a spike.' },
    clipZ: { type: 'number', exclusiveMinimum: 0, default: 1.5, description: 'Residuals are clipped to this many noise units before they move the baseline, so a shift is not absorbed before CUSUM sees it.' },
    shiftK: { type: 'number', minimum: 0, default: 1.5, description: 'CUSUM slack, in noise units.' },
    shiftH: { type: 'number', exclusiveMinimum: 0, default: 14, description: 'CUSUM threshold, in noise units: a level shift.' },
    overrides: {
      type: 'object',
      description: 'Scoring settings per measurement, over the ones above. Slow series with a daily cycle (10 min samples) need a baseline that follows the curve; for them level shifts are left to the rate processor.',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: { alpha: { type: 'number' }, beta: { type: 'number' }, devAlpha: { type: 'number' }, clipZ: { type: 'number' }, shiftK: { type: 'number' }, shiftH: { type: 'number' }, spikeZ: { type: 'number' }, warmup: { type: 'integer' } },
      },
      default: {
        agri_soil: { alpha: 0.3, beta: 0.1, clipZ: 3 },
        agri_weather: { alpha: 0.3, beta: 0.1, clipZ: 3 },
        energy_heat: { alpha: 0.3, beta: 0.1, clipZ: 3 },
        // `jlpipe nab`: NAB's series are single metrics of unknown cadence (docs/DETECTION.md).
        nab: { alpha: 0.2, beta: 0.01, devAlpha: 0.01, clipZ: 3, spikeZ: 4, shiftK: 0.5 },
      },
    },
    seasonal: {
      type: 'object',
      description: 'Series with a daily cycle sampled too rarely for the trend to follow it: measurement -> fields whose baseline is kept per hour of day.',
      additionalProperties: { type: 'array', items: { type: 'string' } },
      default: {},
    },
    fields: {
      type: 'object',
      description: 'Fields scored, per measurement. Counters, positions and bursty fields (rain) are left out.',
      additionalProperties: { type: 'array', items: { type: 'string' } },
      default: {
        agri_soil: ['moisture', 'temperature', 'ec', 'ph'],
        agri_weather: ['air_temperature', 'humidity', 'co2'],
        v2x_rsu_status: ['cpu', 'temperature'],
        energy_meter: ['voltage_a', 'voltage_b', 'voltage_c', 'frequency', 'power_factor'],
        energy_heat: ['flow_rate', 'supply_temp', 'return_temp', 'pressure'],
        iiot_machine: ['vibration_rms', 'spindle_speed', 'temperature', 'pressure'],
      },
    },
  },
} as const;

export type SpikeConfig = FromSchema<typeof spikeSchema>;
