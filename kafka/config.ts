/**
 * The `kafka` section of pipeline.yaml: where the brokers are, the topics of the scale-out
 * topology (SPEC 8) and how the clients behave. Used only by `start --role ...` and
 * `start --workers N`; the single-process default never connects to Kafka.
 */
import type { FromSchema } from 'json-schema-to-ts';

export const kafkaSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    brokers: { type: ['string', 'null'], default: null, description: 'Bootstrap servers, host:port,... Env JL_KAFKA_BROKERS. null with --workers: a librdkafka mock cluster hosted by the parent.' },
    topics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        readings: { type: 'string', minLength: 1, default: 'jl.readings', description: 'Validated, tagged readings keyed by device.' },
        dlq: { type: 'string', minLength: 1, default: 'jl.dlq', description: 'Dead letters with their reason.' },
        ingest: { type: 'string', minLength: 1, default: 'jl.ingest', description: 'Raw wire-format payloads from other platforms; MQTT-style topic in the `topic` header.' },
        anomalies: { type: 'string', minLength: 1, default: 'jl.anomalies', description: 'Anomalies keyed by incident key, and region partial counts keyed by region.' },
        state: { type: 'string', minLength: 1, default: 'jl.state', description: 'Compacted changelog of per-device detector state (same partition as the device on jl.readings).' },
      },
    },
    partitions: { type: 'integer', minimum: 1, default: 6, description: 'Partitions of each topic created at start (jl.readings and jl.state must match).' },
    replication: { type: 'integer', minimum: 1, default: 3, description: 'Replication factor of the topics created at start.' },
    retentionMs: { type: 'integer', minimum: 60000, default: 604800000, description: 'retention.ms of jl.readings, jl.ingest, jl.dlq and jl.anomalies (jl.state is compacted).' },
    groups: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        workers: { type: 'string', default: 'jl-workers' },
        gateways: { type: 'string', default: 'jl-gateways' },
        incidents: { type: 'string', default: 'jl-incidents' },
      },
    },
    sessionTimeoutMs: { type: 'integer', minimum: 1000, default: 10000, description: 'A member silent this long is dropped and its partitions move.' },
    commitEveryMs: { type: 'integer', minimum: 10, default: 1000, description: 'How often settled offsets are committed.' },
    maxUnsettled: { type: 'integer', minimum: 1, default: 20000, description: 'Records taken but not yet durable; past it the consumer pauses its partitions.' },
    stateCheckpointMs: { type: 'integer', minimum: 100, default: 1000, description: 'How often changed per-device detector state goes to jl.state.' },
    partialsEveryMs: { type: 'integer', minimum: 100, default: 1000, description: 'How often a worker reports its region partial counts.' },
    client: { type: 'object', default: {}, additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] }, description: 'Extra librdkafka properties for every client (security.protocol, sasl.*, ssl.*). Never logged.' },
  },
} as const;

export type KafkaConfig = FromSchema<typeof kafkaSchema>;
