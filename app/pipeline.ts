import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { makeLogger } from './logger.js';
import { AlertDispatcher } from '../alerts/dispatcher.js';
import { IncidentManager } from '../alerts/incidents.js';
import { SubscriptionStore } from '../alerts/subscriptions.js';
import { StatisticsReporter } from '../capacity/reporter.js';
import { runCapacityPlan } from '../capacity/run.js';
import { CapacityScheduler } from '../capacity/scheduler.js';
import { PipelineStats, type HealthSnapshot } from '../capacity/statistics.js';
import { LiveConfig } from '../config/live-config.js';
import type { PipelineConfig } from './config.js';
import { Ledger } from '../core/ledger.js';
import { Runtime } from '../core/runtime/runtime.js';
import { DeadLetterSink } from '../deadletter/sink.js';
import { EmbeddedBroker } from '../ingest/mqtt/embedded-broker.js';
import { MqttSource } from '../ingest/mqtt/source.js';
import { DetectionEngine } from '../processors/anomaly/engine.js';
import { personalRedactor, validateAndTag, type TagContext } from '../processors/validate-and-tag.js';
import { UnknownFieldsReport } from '../processors/unknown-fields.js';
import { hashToken, type ApiToken } from '../server/auth.js';
import { buildHttp } from '../server/http.js';
import { buildMetrics, LatencyMetrics } from '../server/metrics.js';
import { DeviceActivity } from '../server/views/device-activity.js';
import type { VerifyResult } from '../alerts/incident-log.js';
import { BestEffortLines } from '../storage/influx/best-effort.js';
import { InfluxOutput, NoOutput } from '../storage/influx/output.js';
import { Spool } from '../storage/spool/spool.js';
import { connectInflux, type InfluxConnection } from './influx.js';
import { buildIncidentStage } from './incident-stage.js';
import { ProgressLog } from './progress.js';

export interface PipelineOptions {
  logger?: Logger;
  /** With no InfluxDB URL configured, run a local influxd (installing it if root). */
  localInflux?: boolean;
  /** Serve the HTTP API (default true). */
  http?: boolean;
}

/** The readiness of the whole pipeline: every check must hold. */
export interface Readiness {
  ok: boolean;
  checks: Record<string, boolean>;
  detail: Record<string, unknown>;
}

/** The stages of a running pipeline, as `Pipeline.start` assembled them. */
interface Stages {
  config: PipelineConfig;
  log: Logger;
  ledger: Ledger;
  live: LiveConfig;
  broker?: EmbeddedBroker;
  source: MqttSource;
  detection: DetectionEngine;
  incidents: IncidentManager;
  subscriptions: SubscriptionStore;
  dispatcher: AlertDispatcher;
  statistics: PipelineStats;
  unknownFields: UnknownFieldsReport;
  influx: InfluxConnection;
  spool: Spool;
  deadLetters: DeadLetterSink;
  runtime: Runtime;
  sideData: BestEffortLines[];
  reporter: StatisticsReporter;
  scheduler: CapacityScheduler;
  progress: ProgressLog;
  latency: LatencyMetrics;
  activity: DeviceActivity;
  verifyChain: () => VerifyResult;
}

/**
 * The whole single-process pipeline, assembled by `Pipeline.start` in the order a message
 * flows: source (MQTT) -> validate and tag -> detection -> statistics -> delivery runtime
 * (InfluxDB with the durable spool, dead letters, ledger, acks). Detection feeds incidents,
 * which feed alert delivery. Every stage is passed in whole; each owns its own timers.
 */
export class Pipeline implements Stages {
  readonly config!: PipelineConfig;
  readonly log!: Logger;
  readonly ledger!: Ledger;
  readonly live!: LiveConfig;
  readonly broker?: EmbeddedBroker;
  readonly source!: MqttSource;
  readonly detection!: DetectionEngine;
  readonly incidents!: IncidentManager;
  readonly subscriptions!: SubscriptionStore;
  readonly dispatcher!: AlertDispatcher;
  readonly statistics!: PipelineStats;
  readonly unknownFields!: UnknownFieldsReport;
  readonly influx!: InfluxConnection;
  readonly spool!: Spool;
  readonly deadLetters!: DeadLetterSink;
  readonly runtime!: Runtime;
  readonly sideData!: BestEffortLines[];
  readonly reporter!: StatisticsReporter;
  readonly scheduler!: CapacityScheduler;
  readonly progress!: ProgressLog;
  readonly latency!: LatencyMetrics;
  readonly activity!: DeviceActivity;
  readonly verifyChain!: () => VerifyResult;
  private http?: FastifyInstance;
  private readonly startedAt = Date.now();

  private constructor(stages: Stages) {
    Object.assign(this, stages);
  }

  /**
   * Loads the config files (throwing ConfigError on a bad one), builds every stage in the order
   * a message flows, and starts taking messages. On any failure what was started is stopped.
   */
  static async start(config: PipelineConfig, opts: PipelineOptions = {}): Promise<Pipeline> {
    const log = opts.logger ?? makeLogger(config.log.level, { svc: 'jlpipe' });
    const started: { close(): unknown }[] = [];
    try {
      mkdirSync(config.dataDir, { recursive: true });
      const ledger = new Ledger();

      // Configuration in force: catalogue and device registry, hot reloaded.
      const live = await LiveConfig.load(config.catalogue, config.devices, log);
      started.push(live);
      log.info({ catalogue: live.catalogue().version, entries: live.catalogue().entries.length, devices: live.registry().size }, 'config loaded');

      // 1. Source: MQTT (the embedded aedes broker when none is configured).
      const broker = config.mqtt.url ? undefined : await EmbeddedBroker.start(config.mqtt.embeddedPort);
      if (broker) {
        started.push(broker);
        log.info({ url: broker.url }, 'no broker configured: embedded aedes broker started');
      }
      const source = new MqttSource({ ...config.mqtt, url: config.mqtt.url ?? broker!.url, protocolVersion: broker ? 4 : config.mqtt.protocolVersion }, log);
      started.push({ close: () => source.stop() });
      const publish = (topic: string, body: string) => source.publish(topic, body);

      // 2. Validate and tag (pure).
      const tag: TagContext = { catalogue: () => live.catalogue(), registry: () => live.registry(), pseudonymKey: pseudonymKey(config), maxPayloadBytes: config.limits.maxPayloadBytes, futureToleranceMs: config.limits.futureToleranceMs };

      // 3. Detection -> incidents (hash-chained log) -> alerts (durable outbox) and dashboard points.
      const influx = await connectInflux(config, !!opts.localInflux, log);
      started.push({ close: () => influx.writer?.close() }, { close: () => influx.influxd?.stop() });
      // Side data (the dashboards' copy) is written only while the output is up; read at flush time.
      const sideWriter = () => (runtime.health().outputUp ? influx.writer : undefined);
      const stage = buildIncidentStage(config, config.dataDir, log, publish, sideWriter, { influxUrl: influx.url, mqttUrl: config.mqtt.url ?? broker!.url });
      const { incidents, subscriptions, dispatcher, points: incidentPoints } = stage;
      started.push({ close: () => stage.stop() });
      const detection = new DetectionEngine(config.detection, live, (a) => incidents.observe(a), log);
      started.push({ close: () => detection.stop() });

      // 4. The pipeline's own statistics (capacity planning, pipeline-health dashboard).
      const statistics = new PipelineStats(live, config.capacity, config.mqtt.clientId);

      // 5. Delivery: InfluxDB with the durable spool, dead letters, the ledger and the acks.
      const spool = new Spool(join(config.dataDir, 'spool'), { maxBytes: config.spool.maxBytes, segmentBytes: config.spool.segmentBytes });
      started.push(spool);
      const deadLetters = new DeadLetterSink(join(config.dataDir, 'dlq'), config.deadLetter.payloadLimit, log, config.deadLetter.publish ? publish : undefined);
      started.push(deadLetters);
      const unknownFields = new UnknownFieldsReport(log);
      const runtime = new Runtime({
        flow: { decode: (msg) => validateAndTag(tag, msg), stages: [detection, statistics, unknownFields], redact: personalRedactor(tag) },
        output: influx.writer ? new InfluxOutput(influx.writer) : new NoOutput(),
        spool,
        deadLetters,
        ledger,
        log,
        options: { ...config.influx, ...config.spool, maxUnackedAgeMs: config.delivery.maxUnackedAgeMs, maxPending: config.delivery.maxPending },
      });
      started.push({ close: () => runtime.stop(0) });
      runtime.on('stored', (readings, at) => statistics.stored(readings, at));
      const latency = LatencyMetrics.of(runtime);
      const activity = new DeviceActivity(config.detection.silence);
      runtime.on('stored', activity.stored);

      const statsPoints = new BestEffortLines('pipeline statistics', sideWriter, log);
      const snapshot = (): HealthSnapshot => {
        const h = runtime.health();
        return { ...ledger.totals(), pending: h.pending, spoolBytes: spool.size, spoolLimit: spool.limit, influxUp: h.outputUp, mqttConnected: source.connected, reconnects: source.reconnects, anomalies: Object.values(detection.stats().anomalies).reduce((a, b) => a + b, 0), outbox: dispatcher.outbox.size };
      };
      const reporter = new StatisticsReporter(statistics, snapshot, statsPoints, (a) => incidents.observe(a), config.capacity.statsEveryMs);
      const progress = new ProgressLog(ledger, () => ({ ...runtime.health(), spoolBytes: spool.size, mqttConnected: source.connected }), log, config.log.progressEverySec);
      const pipeline: Pipeline = new Pipeline({
        latency,
        activity,
        verifyChain: stage.verifyChain,
        config,
        log,
        ledger,
        live,
        broker,
        source,
        detection,
        incidents,
        subscriptions,
        dispatcher,
        statistics,
        unknownFields,
        influx,
        spool,
        deadLetters,
        runtime,
        sideData: [incidentPoints, statsPoints],
        reporter,
        scheduler: new CapacityScheduler(() => pipeline.capacityPlan(config.capacity.planHorizonDays * 86_400_000, true), config.capacity.planEveryMs, log),
        progress,
      });
      started.splice(0); // from here on, stop() closes everything
      try {
        if (opts.http !== false) await pipeline.listen();
        for (const s of pipeline.sideData) s.start();
        dispatcher.start();
        detection.start();
        incidents.start();
        reporter.start();
        pipeline.scheduler.start();
        progress.start();
        runtime.on('pressure', (on) => source.throttle(on));
        source.start((env) => runtime.handle(env));
      } catch (e) {
        await pipeline.stop().catch(() => {});
        throw e;
      }
      return pipeline;
    } catch (e) {
      for (const s of started.reverse()) await Promise.resolve(s.close()).catch(() => {});
      throw e;
    }
  }

  private async listen(): Promise<void> {
    const tokens = apiTokens(this.config, this.log);
    this.http = buildHttp({
      ready: () => this.ready(),
      stats: () => this.stats(),
      catalogue: () => this.live.catalogue(),
      incidents: this.incidents,
      subscriptions: this.subscriptions,
      tokens: () => tokens,
      capacity: (horizonMs) => this.capacityPlan(horizonMs),
      devices: () => this.activity.recent(this.live.registry(), this.live.catalogue()),
      deadLetters: () => this.deadLetters.recent.snapshot(),
      delivery: this.dispatcher,
      verifyChain: this.verifyChain,
      metrics: buildMetrics({
        ledger: () => this.ledger.snapshot(),
        spoolBytes: () => this.spool.size,
        spoolLimit: () => this.spool.limit,
        mqtt: () => ({ connected: this.source.connected, reconnects: this.source.reconnects }),
        latency: this.latency,
        influxUp: () => this.runtime.health().outputUp,
        anomalies: () => this.detection.stats().anomalies,
        late: () => this.detection.stats().late,
        unknownFields: () => ({ messages: this.unknownFields.messages, devices: Object.keys(this.unknownFields.devices()).length }),
        incidents: () => this.incidents.counts(),
        outboxPending: () => this.dispatcher.outbox.size,
        deliveryFailures: () => this.dispatcher.failures,
        runtime: () => {
          const h = this.runtime.health();
          return { ...h, ready: this.ready().ok };
        },
      }),
    });
    await this.http.listen({ port: this.config.http.port, host: this.config.http.host });
    this.log.info({ port: this.httpPort }, 'HTTP API listening');
  }

  /** The port the HTTP API listens on (port 0 in the config picks a free one), once listening. */
  get httpPort(): number | undefined {
    const address = this.http?.server.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  /**
   * The capacity plan over `horizonMs`. Only the scheduled plan (`write`) writes its forecast
   * back to InfluxDB for the capacity dashboard: a GET reads and never writes.
   */
  capacityPlan(horizonMs: number, write = false) {
    if (!this.influx.url) return Promise.reject(new Error('no InfluxDB configured'));
    return runCapacityPlan({ ...this.config.influx, url: this.influx.url }, this.config.capacity, this.live.catalogue(), horizonMs, write && this.runtime.health().outputUp ? this.influx.writer : undefined);
  }

  /**
   * Ready when subscribed and connected, and delivery is sound: no message has waited longer
   * than `delivery.maxUnackedAgeMs`, the spool and the dead-letter store can be written, and data
   * can go somewhere (InfluxDB up, or the spool below its alarm).
   */
  ready(): Readiness {
    const h = this.runtime.health();
    const checks = { subscribed: this.source.subscribed, mqttConnected: this.source.connected, ...this.runtime.checks(), incidentLogWritable: this.incidents.logWritable };
    return { ok: Object.values(checks).every(Boolean), checks, detail: { oldestUnackedAgeMs: h.oldestUnackedAgeMs, maxUnackedAgeMs: this.config.delivery.maxUnackedAgeMs, pending: h.pending, influxUp: h.outputUp, spoolFull: h.spoolFull, spoolAlarm: h.spoolAlarm } };
  }

  stats() {
    const ledger = this.ledger.snapshot();
    const t = ledger.totals;
    const h = this.runtime.health();
    return {
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      balanced: t.received === t.stored + t.deadLettered + t.inSpool + t.nacked + h.pending,
      pending: h.pending,
      ...ledger,
      delivery: h,
      mqtt: { connected: this.source.connected, subscribed: this.source.subscribed, reconnects: this.source.reconnects, unacked: this.source.unacked, ignored: this.source.ignored, nacked: this.source.nacked },
      influx: { up: h.outputUp, api: this.influx.writer?.api, version: this.influx.writer?.server?.version },
      spool: { bytes: this.spool.size, limit: this.config.spool.maxBytes, alarm: h.spoolAlarm, full: h.spoolFull, writable: h.spoolWritable },
      detection: this.detection.stats(),
      incidents: this.incidents.counts(),
      alerts: { outbox: this.dispatcher.outbox.size, delivered: this.dispatcher.outbox.delivered, dropped: this.dispatcher.outbox.dropped, failures: this.dispatcher.failures },
      catalogue: { version: this.live.catalogue().version, entries: this.live.catalogue().entries.length, devices: this.live.registry().size, ...this.live.status },
    };
  }

  /**
   * Stops cleanly: stops taking messages, gives what is pending `delivery.stopGraceMs` to become
   * durable (the rest stays with the broker), writes the last statistics, then closes every
   * stage in the reverse order of the flow.
   */
  async stop(): Promise<void> {
    this.progress.stop();
    this.scheduler.stop();
    this.source.pause();
    await this.runtime.stop(this.config.delivery.stopGraceMs);
    await this.reporter.stop();
    this.detection.stop();
    this.dispatcher.stop();
    this.incidents.close();
    this.dispatcher.outbox.close();
    for (const s of this.sideData) await s.stop();
    await this.source.stop().catch(() => {});
    await this.live.close();
    await this.spool.close();
    await this.deadLetters.close();
    await this.influx.writer?.close();
    await this.http?.close();
    await this.broker?.close();
    await this.influx.influxd?.stop();
    this.log.info({ ...this.ledger.totals() }, 'pipeline stopped');
  }
}

/** The key of the pseudonymising hash: configured, or made once and kept in the data dir. */
export function pseudonymKey(config: PipelineConfig): Buffer {
  if (config.pseudonymKey) return Buffer.from(config.pseudonymKey, 'hex');
  const file = join(config.dataDir, 'pseudonym.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

/** Configured tokens, or one admin token generated once into the data dir (demo, npm start). */
export function apiTokens(config: PipelineConfig, log: Logger): ApiToken[] {
  if (config.api.tokens.length) return config.api.tokens;
  const file = join(config.dataDir, 'api-token');
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
  log.warn({ file }, 'no API tokens configured: an admin token was generated into this file');
  return [{ name: 'local-admin', role: 'admin', sha256: hashToken(readFileSync(file, 'utf8').trim()) }];
}
