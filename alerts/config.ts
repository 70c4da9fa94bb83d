/** Config of incidents and alert delivery (pipeline.yaml `incidents` and `alerts`). */
import type { FromSchema } from 'json-schema-to-ts';

export const incidentsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    openAfter: { type: 'integer', minimum: 1, default: 1, description: 'Anomalies of one key within openWindowMs before an incident opens.' },
    openWindowMs: { type: 'integer', minimum: 0, default: 60000 },
    clearAfterMs: { type: 'integer', minimum: 0, default: 600000, description: 'Quiet this long and the signal is marked cleared (the incident stays open for the operator).' },
    reopenWindowMs: { type: 'integer', minimum: 0, default: 600000, description: 'A signal returning within this time after resolution reopens the incident instead of opening a new one (flap control).' },
    logUpdatesEveryMs: { type: 'integer', minimum: 0, default: 30000, description: 'Merged anomalies are logged at most this often per incident.' },
    maxDevices: { type: 'integer', minimum: 1, default: 1000, description: 'Devices listed per incident; the count goes on.' },
    grading: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        devicesForOneLevel: { type: 'integer', minimum: 1, default: 10 },
        devicesForTwoLevels: { type: 'integer', minimum: 1, default: 100 },
        reportWithinMsCritical: { type: 'integer', minimum: 0, default: 3600000, description: 'Report-by deadline of level III+ for critical infrastructure (1 h).' },
        reportWithinMs: { type: 'integer', minimum: 0, default: 14400000, description: 'Report-by deadline of level III+ otherwise (4 h).' },
      },
    },
  },
} as const;

export const deliverySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    timeoutMs: { type: 'integer', minimum: 100, default: 10000, description: 'Webhook request timeout.' },
    retryMinMs: { type: 'integer', minimum: 1, default: 1000 },
    retryMaxMs: { type: 'integer', minimum: 1, default: 300000 },
    maxAgeMs: { type: 'integer', minimum: 1000, default: 604800000, description: 'Undelivered alerts older than this are dropped and logged.' },
    concurrency: { type: 'integer', minimum: 1, default: 8 },
  },
} as const;

export type IncidentsConfig = FromSchema<typeof incidentsSchema>;
export type GradingConfig = IncidentsConfig['grading'];
export type DeliveryConfig = FromSchema<typeof deliverySchema>;
