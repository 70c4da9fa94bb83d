/**
 * JSON Schema of the pipeline config (config/pipeline.yaml). Declared once: it validates the
 * file at start, fills the defaults and documents each option. Environment variables override
 * (see app/config.ts).
 */
import { deliverySchema, incidentsSchema } from '../alerts/config.js';
import { capacitySchema } from '../capacity/config.js';
import { kafkaSchema } from '../kafka/config.js';
import { detectionSchema } from '../processors/anomaly/config.js';
import { apiTokenSchema } from '../server/auth.js';

export const pipelineSchema = {
  $id: 'jl:pipeline',
  type: 'object',
  additionalProperties: false,
  properties: {
    catalogue: { type: 'string', default: 'catalogue/catalogue.yaml', description: 'Catalogue file, relative to this file. Env JL_CATALOGUE.' },
    devices: { type: 'string', default: 'devices.yaml', description: 'Device registry, relative to this file. Env JL_DEVICES.' },
    dataDir: { type: 'string', default: '../data', description: 'Spool, dead letters and state, relative to this file. Env JL_DATA_DIR.' },
    mqtt: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        url: { type: ['string', 'null'], default: null, description: 'Broker URL; null runs the embedded aedes broker. Env JL_MQTT_URL.' },
        embeddedPort: { type: 'integer', minimum: 0, maximum: 65535, default: 1883, description: 'Port of the embedded broker.' },
        clientId: { type: 'string', minLength: 1, default: 'jlpipe-1', description: 'Stable id: the persistent session is keyed by it.' },
        shareGroup: { type: ['string', 'null'], default: null, description: 'Shared subscription group ($share/<group>/...) for several instances; "" for a plain subscription (a gateway role defaults to jl-gateways).' },
        protocolVersion: { enum: [4, 5], default: 5, description: 'MQTT 5 lets the client set its receive window; 4 (3.1.1) for brokers without 5.' },
        receiveMaximum: { type: 'integer', minimum: 1, maximum: 65535, default: 20000, description: 'Unacknowledged QoS 1 messages the broker may send at once (MQTT 5).' },
        topic: { type: 'string', default: 'jl/#' },
        username: { type: 'string' },
        password: { type: 'string' },
        reconnectMinMs: { type: 'integer', minimum: 100, default: 500 },
        reconnectMaxMs: { type: 'integer', minimum: 100, default: 30000 },
      },
    },
    influx: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        url: { type: ['string', 'null'], default: null, description: 'InfluxDB URL. Env JL_INFLUX_URL. null: local influxd (npm start) or spool only.' },
        api: { enum: ['auto', 'v1', 'v2'], default: 'auto', description: 'auto: detected from /ping (v1 /write before 1.8, v2 API from 1.8 on).' },
        database: { type: 'string', default: 'jilin_iot', description: 'v1 database. Env JL_INFLUX_DB.' },
        retentionPolicy: { type: 'string', default: '' },
        org: { type: 'string', default: 'jilin', description: 'v2 org. Env JL_INFLUX_ORG.' },
        bucket: { type: 'string', default: 'jilin_iot', description: 'v2 bucket. Env JL_INFLUX_BUCKET.' },
        token: { type: 'string', default: '', description: 'v2 token. Env JL_INFLUX_TOKEN. Never logged.' },
        username: { type: 'string', default: '' },
        password: { type: 'string', default: '' },
        batchSize: { type: 'integer', minimum: 1, default: 5000, description: 'Points per write.' },
        flushMs: { type: 'integer', minimum: 1, default: 50, description: 'Longest a point waits for its batch.' },
        maxInFlight: { type: 'integer', minimum: 1, default: 2, description: 'Concurrent write requests.' },
        timeoutMs: { type: 'integer', minimum: 100, default: 10000 },
        gzip: { type: 'boolean', default: true },
        retries: { type: 'integer', minimum: 0, default: 3, description: 'Retries of a failed write before its batch goes to the spool.' },
        retryMinMs: { type: 'integer', minimum: 1, default: 200 },
        retryMaxMs: { type: 'integer', minimum: 1, default: 5000 },
      },
    },
    spool: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxBytes: { type: 'integer', minimum: 1024, default: 2147483648, description: 'Bound of the durable spool; past it acks are held back.' },
        alarmRatio: { type: 'number', minimum: 0, maximum: 1, default: 0.8, description: 'Fill ratio that raises the spool alarm.' },
        segmentBytes: { type: 'integer', minimum: 1024, default: 67108864 },
        replayBatch: { type: 'integer', minimum: 1, default: 5000 },
        probeMs: { type: 'integer', minimum: 10, default: 1000, description: 'First wait between replay attempts while InfluxDB is down; it doubles after each failure.' },
        probeMaxMs: { type: 'integer', minimum: 10, default: 30000, description: 'Longest wait between replay attempts while InfluxDB is down.' },
      },
    },
    delivery: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxUnackedAgeMs: { type: 'integer', minimum: 100, default: 30000, description: 'Unready (/readyz 503) once a message has waited this long for a durable outcome (InfluxDB, spool or dead letters all failing).' },
        maxPending: { type: 'integer', minimum: 1, default: 20000, description: 'Messages held at once awaiting a durable outcome; past it the MQTT source stops reading until half have settled (the broker keeps the rest). Bounds memory when the broker sends more than mqtt.receiveMaximum (mosquitto with max_queued_messages 0 does).' },
        stopGraceMs: { type: 'integer', minimum: 0, default: 10000, description: 'On shutdown, how long pending batches may take to become durable before the rest is left with the broker.' },
      },
    },
    deadLetter: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        payloadLimit: { type: 'integer', minimum: 0, default: 4096, description: 'Bytes of the original payload kept in a dead letter.' },
        publish: { type: 'boolean', default: true, description: 'Also publish dead letters to jl/_dlq/{reason}.' },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxPayloadBytes: { type: 'integer', minimum: 64, default: 65536 },
        futureToleranceMs: { type: 'integer', minimum: 0, default: 300000, description: 'Timestamps further ahead than this are a schema violation.' },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080, description: 'Env JL_HTTP_PORT.' },
        host: { type: 'string', default: '127.0.0.1' },
      },
    },
    kafka: kafkaSchema,
    detection: detectionSchema,
    capacity: capacitySchema,
    incidents: incidentsSchema,
    alerts: deliverySchema,
    api: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        tokens: {
          type: 'array',
          default: [],
          description: 'Bearer tokens, stored as sha256 hex of the token. With none, an admin token is generated into dataDir/api-token at start.',
          items: apiTokenSchema,
        },
      },
    },
    pseudonymKey: { type: 'string', description: 'Key of the pseudonymising hash (hex). Env JL_PSEUDONYM_KEY; else generated once into dataDir.' },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
        progressEverySec: { type: 'number', minimum: 0, default: 5 },
      },
    },
  },
} as const;
