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
    maxDevices: { type: 'integer', minimum: 1, default: 1000, description: 'Devices listed per incident; the count goes on, exact up to 11 times this.' },
    // No defaults in the schema (optional in the type); the defaults are applied where used.
    keepResolvedMs: { type: 'integer', minimum: 0, description: 'Resolved incidents are forgotten from memory (not from the log) this long after resolution (at least reopenWindowMs); default 7 days.' },
    logKeyFile: { type: 'string', description: 'HMAC key of the incident log (hex), outside the data dir; relative to this file\'s folder. Default incident-log.key beside this file, made (mode 0600) when missing; JL_INCIDENT_LOG_KEY overrides.' },
    checkpointEveryMs: { type: 'integer', minimum: 1000, description: 'A checkpoint of the log head goes to InfluxDB and alert subscribers at most this often, when the log grew; default 60000.' },
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
    egress: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Where webhooks may go (alerts/egress.ts): checked when a subscription is saved and, after DNS, at every delivery. A refused delivery is dropped and logged.',
      properties: {
        allow: { type: 'array', items: { type: 'string', minLength: 1 }, default: [], description: 'Destinations allowed past the rules: host, *.suffix, IP or CIDR, each optionally :port ([v6]:port). Loopback, link-local, private, unspecified and reserved addresses and this host\'s own need an IP/CIDR entry; the pipeline\'s own InfluxDB and MQTT broker an entry with their port.' },
        allowPublic: { type: 'boolean', default: true, description: 'Any public address may receive webhooks; false: only those in allow.' },
        schemes: { type: 'array', items: { enum: ['https', 'http'] }, minItems: 1, default: ['https', 'http'] },
        ports: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 65535 }, default: [], description: 'Ports a public destination may use (empty: any); allow entries name their own.' },
        maxResponseBytes: { type: 'integer', minimum: 0, default: 65536, description: 'Webhook answer bytes read at most; then the connection is cut.' },
      },
    },
  },
} as const;

export type IncidentsConfig = FromSchema<typeof incidentsSchema>;
export type GradingConfig = IncidentsConfig['grading'];
export type DeliveryConfig = FromSchema<typeof deliverySchema>;
