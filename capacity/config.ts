import type { FromSchema } from 'json-schema-to-ts';

/** What one region (an edge or data centre) can take. */
const regionCapacitySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['storageBytes', 'writePointsPerSec', 'cpuCores'],
  properties: {
    storageBytes: { type: 'number', exclusiveMinimum: 0, description: 'Disk for InfluxDB data in this region, bytes.' },
    writePointsPerSec: { type: 'number', exclusiveMinimum: 0, description: 'Points per second the region InfluxDB sustains.' },
    cpuCores: { type: 'number', exclusiveMinimum: 0, description: 'CPU cores the pipeline may use in this region.' },
  },
} as const;

export const capacitySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    statsEveryMs: { type: 'integer', minimum: 1000, default: 10000, description: 'How often the pipeline writes its own statistics (`pipeline_stats`, `pipeline_health`, `pipeline_rejects`).' },
    onlineCycles: { type: 'number', minimum: 1, default: 3, description: 'A device counts as online if it sent within this many of its catalogue update cycles (at least one minute).' },
    bytesPerValue: { type: 'number', exclusiveMinimum: 0, default: 2.5, description: 'Disk bytes one stored field value takes after TSM compression (InfluxDB sizing guide: about 2-3 for numbers).' },
    retentionDays: { type: ['number', 'null'], exclusiveMinimum: 0, default: null, description: 'Retention of the sensor data; null keeps everything, so storage only grows.' },
    targetUtilisation: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.7, description: 'Capacity counts as exhausted above this share of a limit (headroom for peaks and failover).' },
    instanceMsgPerSec: { type: 'number', exclusiveMinimum: 0, default: 10000, description: 'Messages per second one pipeline instance sustains (from `npm run bench` on the target machine); sizes the recommended workers and gateways of the Kafka topology.' },
    historyDays: { type: 'number', exclusiveMinimum: 0, default: 28, description: 'How much of `pipeline_stats` the planner reads.' },
    minHistoryHours: { type: 'number', minimum: 0, default: 24, description: 'History the planner needs before it forecasts or recommends: with less it says "not enough history" (minutes of statistics say nothing about a year).' },
    intervalLevel: { enum: [0.8, 0.9, 0.95, 0.99], default: 0.9, description: 'Coverage of the prediction interval given with each forecast at the horizon.' },
    planEveryMs: { type: 'integer', minimum: 0, default: 3600000, description: 'How often the running pipeline plans and writes the forecast for the capacity dashboard (0: never; `jlpipe capacity report` does it on demand).' },
    planHorizonDays: { type: 'number', exclusiveMinimum: 0, maximum: 3650, default: 365, description: 'Horizon of the periodic plan.' },
    regions: {
      type: 'object',
      default: { default: { storageBytes: 2e12, writePointsPerSec: 100000, cpuCores: 8 } },
      description: 'Capacity per division code; `default` applies to regions not listed.',
      propertyNames: { pattern: '^(default|[0-9]{6})$' },
      additionalProperties: regionCapacitySchema,
    },
  },
} as const;

export type RegionCapacity = FromSchema<typeof regionCapacitySchema>;
/** pipeline.yaml `capacity`: the pipeline's own statistics and the planner's limits. */
export type CapacityConfig = FromSchema<typeof capacitySchema>;

/** The capacity of a region: its own entry, else `default`. */
export function regionCapacity(c: CapacityConfig, region: string): RegionCapacity | undefined {
  return c.regions[region] ?? c.regions.default;
}
