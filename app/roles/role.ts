import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { IncidentManager } from '../../alerts/incidents.js';
import { KafkaPoints } from '../../capacity/kafka-points.js';
import { StatisticsReporter } from '../../capacity/reporter.js';
import type { HealthSnapshot, PipelineStats } from '../../capacity/statistics.js';
import type { Anomaly } from '../../core/anomaly.js';
import type { SubscriptionStore } from '../../alerts/subscriptions.js';
import type { Catalogue } from '../../config/catalogue.js';
import { Ledger } from '../../core/ledger.js';
import type { ApiToken } from '../../server/auth.js';
import type { ApiContext } from '../../server/context.js';
import { Runtime, type Flow } from '../../core/runtime/runtime.js';
import type { Output } from '../../core/stores.js';
import { toDeadLetter } from '../../deadletter/record.js';
import { DeadLetterSink } from '../../deadletter/sink.js';
import { baseClientConfig } from '../../kafka/clients.js';
import type { ConsumerStats } from '../../core/consumer.js';
import type { KafkaSource } from '../../kafka/consumer-source.js';
import { KafkaDeadLetters } from '../../kafka/outputs.js';
import { KafkaProducer } from '../../kafka/producer.js';
import { ensureTopics } from '../../kafka/topics.js';
import { buildHttp } from '../../server/http.js';
import { buildMetrics, LatencyMetrics } from '../../server/metrics.js';
import { BestEffortLines } from '../../storage/influx/best-effort.js';
import type { LineWriter } from '../../storage/influx/writer.js';
import { Spool } from '../../storage/spool/spool.js';
import type { PipelineConfig } from '../config.js';

export type RoleName = 'gateway' | 'worker' | 'incidents';

/** What every role of the Kafka topology shares: its name, data dir, client id and logger. */
export interface RoleContext {
  role: RoleName;
  /** Stable per process (restart it with the same one): MQTT session, client ids, data dir. */
  instance: string;
  config: PipelineConfig;
  log: Logger;
}

/** Readiness as /readyz sends it. */
export interface RoleReadiness {
  ok: boolean;
  checks: Record<string, boolean>;
  detail?: Record<string, unknown>;
}

/** A running role: the handles the CLI, the supervisor and the tests use. */
export interface RunningRole {
  readonly role: RoleName;
  readonly instance: string;
  readonly httpPort: number | undefined;
  ready(): RoleReadiness;
  stats(): Record<string, unknown>;
  stop(): Promise<void>;
}

export function roleId(ctx: RoleContext): string {
  return `${ctx.role}-${ctx.instance}`;
}

/** The role's own data dir (spool, dead letters, logs): two processes never share one. */
export function roleDir(ctx: RoleContext): string {
  const dir = join(ctx.config.dataDir, roleId(ctx));
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function clientConfig(ctx: RoleContext): Record<string, string | number | boolean> {
  return baseClientConfig(ctx.config.kafka, `jl-${roleId(ctx)}`);
}

/** An idempotent producer, after making sure the topology's topics exist. */
export async function connectProducer(ctx: RoleContext): Promise<KafkaProducer> {
  const producer = await KafkaProducer.connect(clientConfig(ctx));
  await ensureTopics(ctx.config.kafka, clientConfig(ctx), producer.topics, ctx.log);
  return producer;
}

/**
 * The delivery part of a gateway or worker: the runtime writing through `output`, with the
 * spool and dead letters (disk and jl.dlq; with `notices`, rejections also go beside the
 * readings for the worker that owns the claimed device).
 */
export function deliveryRuntime(ctx: RoleContext, flow: Flow, output: Output, producer: KafkaProducer, ledger: Ledger, notices: boolean): { runtime: Runtime; spool: Spool; close(): Promise<void> } {
  const { config, log } = ctx;
  const dir = roleDir(ctx);
  const spool = new Spool(join(dir, 'spool'), { maxBytes: config.spool.maxBytes, segmentBytes: config.spool.segmentBytes });
  const disk = new DeadLetterSink(join(dir, 'dlq'), config.deadLetter.payloadLimit, log);
  const deadLetters = new KafkaDeadLetters(disk, producer, { dlq: config.kafka.topics.dlq, readings: notices ? config.kafka.topics.readings : undefined }, (r) => toDeadLetter(r, config.deadLetter.payloadLimit));
  const runtime = new Runtime({ flow, output, spool, deadLetters, ledger, log, options: { ...config.influx, ...config.spool, maxUnackedAgeMs: config.delivery.maxUnackedAgeMs, maxPending: config.delivery.maxPending } });
  return {
    runtime,
    spool,
    close: async () => {
      await spool.close();
      await deadLetters.close();
    },
  };
}

/** The HTTP API of a role: health, readiness, metrics (with the Kafka consumers) and /stats. */
export async function roleHttp(ctx: RoleContext, parts: { ready: () => RoleReadiness; stats: () => unknown; ledger: Ledger; runtime?: Runtime; consumers: () => KafkaSource[]; catalogue: () => Catalogue; tokens: () => ApiToken[]; incidents?: IncidentManager; subscriptions?: SubscriptionStore; delivery?: ApiContext['delivery']; verifyChain?: ApiContext['verifyChain']; mqtt?: () => { connected: boolean; reconnects: number }; latency?: LatencyMetrics }): Promise<FastifyInstance> {
  const http = buildHttp({
    incidents: parts.incidents,
    subscriptions: parts.subscriptions,
    delivery: parts.delivery,
    verifyChain: parts.verifyChain,
    ready: parts.ready,
    stats: parts.stats,
    catalogue: parts.catalogue,
    tokens: parts.tokens,
    metrics: buildMetrics({
      ledger: () => parts.ledger.snapshot(),
      spoolBytes: () => 0,
      influxUp: () => parts.runtime?.health().outputUp ?? true,
      anomalies: () => ({}),
      late: () => 0,
      incidents: () => parts.incidents?.counts() ?? {},
      outboxPending: () => 0,
      deliveryFailures: () => 0,
      runtime: parts.runtime ? () => ({ ...parts.runtime!.health(), ready: parts.ready().ok }) : undefined,
      kafka: () => parts.consumers().map((c) => c.stats()),
      mqtt: parts.mqtt,
      latency: parts.latency,
      role: ctx.role,
    }),
  });
  await http.listen({ port: ctx.config.http.port, host: ctx.config.http.host });
  return http;
}

export function consumerStats(consumers: KafkaSource[]): ConsumerStats[] {
  return consumers.map((c) => c.stats());
}

/**
 * A role's own statistics, written best effort to InfluxDB every `capacity.statsEveryMs` like
 * the single process's (app/pipeline.ts): `pipeline_stats`, `pipeline_rejects` and
 * `pipeline_health` from `statistics`, tagged instance = roleId, plus `pipeline_kafka` (and
 * `pipeline_kafka_partition`) for its consumers. Lines wait while `writer()` gives none.
 * `stop` writes a last interval.
 */
export function roleReporter(
  ctx: RoleContext,
  parts: { statistics: PipelineStats; snapshot: () => HealthSnapshot; consumers: () => KafkaSource[]; writer: () => LineWriter | undefined; onAnomaly?: (a: Anomaly) => void },
): { start(): void; stop(): Promise<void> } {
  const lines = new BestEffortLines('pipeline statistics', parts.writer, ctx.log);
  const kafka = new KafkaPoints({ role: ctx.role, instance: roleId(ctx) });
  const reporter = new StatisticsReporter(parts.statistics, parts.snapshot, lines, parts.onAnomaly ?? (() => {}), ctx.config.capacity.statsEveryMs, (now) => kafka.lines(consumerStats(parts.consumers()), now));
  return {
    start: () => {
      lines.start();
      reporter.start();
    },
    stop: async () => {
      await reporter.stop();
      await lines.stop();
    },
  };
}

/** The handles of a started role; logs the port its HTTP API listens on (tests read that line). */
export function runningRole(ctx: RoleContext, http: FastifyInstance, ready: () => RoleReadiness, stats: () => Record<string, unknown>, stop: () => Promise<void>): RunningRole {
  const port = () => {
    const a = http.server.address();
    return a && typeof a === 'object' ? a.port : undefined;
  };
  ctx.log.info({ role: ctx.role, instance: ctx.instance, port: port() }, 'HTTP API listening');
  return { role: ctx.role, instance: ctx.instance, get httpPort() { return port(); }, ready, stats, stop };
}
