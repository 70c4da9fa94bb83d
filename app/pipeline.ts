import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { loadCatalogue } from '../config/catalogue.js';
import { loadRegistry } from '../config/devices.js';
import type { PipelineConfig } from '../config/pipeline.js';
import { ConfigWatcher } from '../config/watch.js';
import { Ledger } from '../core/ledger.js';
import { Runner } from '../core/runner.js';
import type { Reading } from '../core/types.js';
import { DeadLetterSink } from '../deadletter/sink.js';
import { runCapacityPlan } from '../capacity/run.js';
import { PipelineStats } from '../capacity/statistics.js';
import { AlertDispatcher } from '../alerts/dispatcher.js';
import { IncidentManager } from '../alerts/incidents.js';
import { incidentLine, openGaugeLines } from '../alerts/incident-points.js';
import { Outbox } from '../alerts/outbox.js';
import { SubscriptionStore } from '../alerts/subscriptions.js';
import { DetectionEngine } from '../processors/anomaly/engine.js';
import { hashToken, type ApiToken } from '../server/auth.js';
import { buildMetrics } from '../server/metrics.js';
import { EmbeddedBroker } from '../ingest/mqtt/embedded-broker.js';
import { MqttSource } from '../ingest/mqtt/source.js';
import { ingest, type IngestContext } from '../processors/ingest.js';
import { buildHttp } from '../server/http.js';
import { LocalInfluxd } from '../services/influxd.js';
import { portOpen } from '../services/ports.js';
import { AutoWriter } from '../storage/influx/auto-writer.js';
import { BestEffortLines } from '../storage/influx/best-effort.js';
import { InfluxSink } from '../storage/influx/sink.js';
import { Spool, type SpoolRecord } from '../storage/spool/spool.js';

export interface PipelineOptions {
  logger?: Logger;
  /** With no InfluxDB URL configured, run a local influxd (installing it if root). */
  localInflux?: boolean;
  /** Serve the HTTP API (default true). */
  http?: boolean;
}

/** The key of the pseudonymising hash: configured, or made once and kept in the data dir. */
function pseudonymKey(config: PipelineConfig): Buffer {
  if (config.pseudonymKey) return Buffer.from(config.pseudonymKey, 'hex');
  const file = join(config.dataDir, 'pseudonym.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

/**
 * The whole single-process pipeline: MQTT source -> ingest (validate, authenticate, tag) ->
 * InfluxDB sink with durable spool, dead letters for everything refused, the completeness
 * ledger, the HTTP API and hot reload of catalogue and registry.
 */
export class Pipeline {
  readonly ledger = new Ledger();
  readonly log: Logger;
  ctx!: IngestContext;
  runner!: Runner;
  source!: MqttSource;
  sink!: InfluxSink;
  deadLetters!: DeadLetterSink;
  writer?: AutoWriter;
  /** The InfluxDB in use (configured, or the local one started for the demo). */
  influxUrl?: string;
  watcher!: ConfigWatcher;
  broker?: EmbeddedBroker;
  influxd?: LocalInfluxd;
  http?: FastifyInstance;
  httpPort?: number;
  detection!: DetectionEngine;
  incidents!: IncidentManager;
  subscriptions!: SubscriptionStore;
  dispatcher!: AlertDispatcher;
  incidentPoints!: BestEffortLines;
  /** The pipeline's statistics about itself (capacity planning, pipeline health dashboard). */
  selfStats!: PipelineStats;
  statsPoints!: BestEffortLines;
  private storedHook?: (readings: Reading[], at: number) => void;
  private statsTimer?: NodeJS.Timeout;
  private planTimer?: NodeJS.Timeout;
  tokens: ApiToken[] = [];
  private progressTimer?: NodeJS.Timeout;
  private housekeeping?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private lastProgress = { at: Date.now(), received: 0 };

  private constructor(readonly config: PipelineConfig, private readonly opts: PipelineOptions) {
    this.log = opts.logger ?? pino({ level: config.log.level, base: { svc: 'jlpipe' } });
  }

  /** Loads config files (throwing ConfigError on a bad one) and starts every stage. */
  static async start(config: PipelineConfig, opts: PipelineOptions = {}): Promise<Pipeline> {
    const p = new Pipeline(config, opts);
    try {
      await p.init();
    } catch (e) {
      await p.stop().catch(() => {});
      throw e;
    }
    return p;
  }

  private async init(): Promise<void> {
    const c = this.config;
    mkdirSync(c.dataDir, { recursive: true });
    const catalogue = loadCatalogue(c.catalogue);
    const registry = loadRegistry(c.devices, catalogue);
    this.ctx = { catalogue, registry, pseudonymKey: pseudonymKey(c), maxPayloadBytes: c.limits.maxPayloadBytes, futureToleranceMs: c.limits.futureToleranceMs };
    this.log.info({ catalogue: catalogue.version, entries: catalogue.entries.length, devices: registry.size }, 'config loaded');

    this.deadLetters = new DeadLetterSink(join(c.dataDir, 'dlq'), c.deadLetter.payloadLimit, this.log);
    await this.startInflux();
    const spool = new Spool(join(c.dataDir, 'spool'), { maxBytes: c.spool.maxBytes, segmentBytes: c.spool.segmentBytes });
    await this.restoreSpoolCounts(spool);
    // A spooled record InfluxDB refuses on replay: its line protocol becomes dead letters.
    const refused = (rec: SpoolRecord, detail: string) =>
      this.deadLetters.write(rec.lines.map((line) => ({ source: Object.keys(rec.sources).join(','), reason: 'storage_rejected' as const, detail, topic: '(spool)', payload: Buffer.from(line), receivedAt: Date.now() })));
    this.sink = new InfluxSink(this.writer, spool, this.ledger, this.log, { ...c.influx, ...c.spool }, refused);
    this.startAlerts();
    this.runner = new Runner((m) => {
      const outcome = ingest(this.ctx, m);
      this.selfStats.observe(m, outcome);
      this.detection.observe(outcome);
      return outcome;
    }, this.sink, this.deadLetters, this.ledger, this.log, {
      batchSize: c.influx.batchSize,
      flushMs: c.influx.flushMs,
      maxInFlight: c.influx.maxInFlight,
      fullRetryMs: c.spool.probeMs,
    });
    this.runner.onStored = (readings, at) => {
      this.selfStats.stored(readings, at);
      this.storedHook?.(readings, at);
    };

    let url = c.mqtt.url;
    let protocolVersion = c.mqtt.protocolVersion;
    if (!url) {
      this.broker = await EmbeddedBroker.start(c.mqtt.embeddedPort);
      url = this.broker.url;
      protocolVersion = 4; // aedes speaks MQTT 3.1.1
      this.log.info({ url }, 'no broker configured: embedded aedes broker started');
    }
    this.source = new MqttSource({ ...c.mqtt, url, protocolVersion }, this.log);
    this.dispatcher.start();
    this.detection.start();
    if (c.deadLetter.publish) this.deadLetters.publisher = (t, b) => this.source.publish(t, b);

    this.watcher = new ConfigWatcher(c.catalogue, c.devices, (cat, reg) => (this.ctx = { ...this.ctx, catalogue: cat, registry: reg }), this.log);
    await this.watcher.start(catalogue.entries.map((e) => e.file).filter((f) => f !== catalogue.file));

    if (this.opts.http !== false) {
      this.tokens = this.apiTokens();
      this.http = buildHttp({
        ready: () => this.ready(),
        stats: () => this.stats(),
        catalogue: () => this.ctx.catalogue,
        incidents: this.incidents,
        subscriptions: this.subscriptions,
        tokens: () => this.tokens,
        capacity: (horizonMs) => this.capacityPlan(horizonMs),
        metrics: buildMetrics({
          ledger: () => this.ledger.snapshot(),
          spoolBytes: () => this.sink.spoolBytes,
          influxUp: () => this.sink.up,
          anomalies: () => this.detection.stats().anomalies,
          late: () => this.detection.stats().late,
          incidents: () => this.incidents.counts(),
          outboxPending: () => this.dispatcher.outbox.size,
          deliveryFailures: () => this.dispatcher.failures,
        }),
      });
      await this.http.listen({ port: c.http.port, host: c.http.host });
      this.httpPort = (this.http.server.address() as { port: number }).port;
      this.log.info({ port: this.httpPort }, 'HTTP API listening');
    }
    this.source.start((env) => this.runner.handle(env));
    this.statsTimer = setInterval(() => void this.writeStats(), c.capacity.statsEveryMs);
    this.statsTimer.unref();
    if (c.capacity.planEveryMs > 0) {
      this.planTimer = setInterval(() => void this.plan(), c.capacity.planEveryMs);
      this.planTimer.unref();
    }
    if (c.log.progressEverySec > 0) {
      this.progressTimer = setInterval(() => this.progress(), c.log.progressEverySec * 1000);
      this.progressTimer.unref();
    }
  }

  /**
   * Anomaly processors -> incidents (hash-chained log) -> alert subscriptions (durable outbox)
   * and the `incidents` measurement. The whole incident log is written to InfluxDB again at
   * start, which overwrites rather than duplicates, so the dashboards catch up after an outage.
   */
  private startAlerts(): void {
    const c = this.config;
    this.subscriptions = new SubscriptionStore(join(c.dataDir, 'subscriptions.json'));
    this.dispatcher = new AlertDispatcher(this.subscriptions, new Outbox(join(c.dataDir, 'alerts', 'outbox.jsonl')), c.alerts, this.log, (topic, body) => this.source.publish(topic, body));
    this.incidentPoints = new BestEffortLines('incident points', () => (this.sink?.up ? this.writer : undefined), this.log);
    this.incidents = new IncidentManager(join(c.dataDir, 'incidents', 'incidents.log'), c.incidents, this.log, Date.now, (r) =>
      this.incidentPoints.push([incidentLine(r.event, r.incident, r.at, r.n)]),
    );
    this.incidents.on(this.dispatcher.onIncident);
    this.incidents.on((event, inc, n) => this.incidentPoints.push([incidentLine(event, inc, Date.now(), n)]));
    this.selfStats = new PipelineStats(() => this.ctx, c.capacity, c.mqtt.clientId);
    this.statsPoints = new BestEffortLines('pipeline statistics', () => (this.sink?.up ? this.writer : undefined), this.log);
    this.detection = new DetectionEngine(c.detection, { catalogue: () => this.ctx.catalogue, registry: () => this.ctx.registry }, (a) => this.incidents.observe(a), this.log);
    let ticks = 0;
    this.housekeeping = setInterval(() => {
      this.incidents.tick();
      if (ticks++ % 10 === 0) this.incidentPoints.push(openGaugeLines(this.incidents.all(), Date.now()));
      void this.incidentPoints.flush();
    }, 1000);
    this.housekeeping.unref();
  }

  /** One interval of the pipeline's own statistics to InfluxDB; a resource over budget raises an incident. */
  private async writeStats(): Promise<void> {
    const now = Date.now();
    const t = this.ledger.totals();
    this.statsPoints.push(
      this.selfStats.lines(now, {
        ...t,
        pending: this.runner.pendingMessages,
        spoolBytes: this.sink.spoolBytes,
        spoolLimit: this.config.spool.maxBytes,
        influxUp: this.sink.up,
        mqttConnected: this.source.connected,
        reconnects: this.source.reconnects,
        anomalies: Object.values(this.detection.stats().anomalies).reduce((a, b) => a + b, 0),
        outbox: this.dispatcher.outbox.size,
      }),
    );
    for (const a of this.selfStats.budgetAnomalies(now)) this.incidents.observe(a);
    await this.statsPoints.flush();
  }

  /** The capacity plan over `horizonMs`, written back to InfluxDB for the capacity dashboard. */
  capacityPlan(horizonMs: number) {
    if (!this.influxUrl) return Promise.reject(new Error('no InfluxDB configured'));
    return runCapacityPlan({ ...this.config.influx, url: this.influxUrl }, this.config.capacity, this.ctx.catalogue, horizonMs, this.sink.up ? this.writer : undefined);
  }

  private async plan(): Promise<void> {
    try {
      const plan = await this.capacityPlan(this.config.capacity.planHorizonDays * 86_400_000);
      const soon = plan.regions.flatMap((r) => r.metrics.filter((m) => m.exhaustedAt !== null).map((m) => `${r.region} ${m.metric} ${new Date(m.exhaustedAt!).toISOString().slice(0, 10)}`));
      this.log.info({ regions: plan.regions.length, runsOut: soon }, soon.length ? `capacity: runs out within the horizon: ${soon.join(', ')}` : 'capacity: no region runs out within the horizon');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'capacity plan failed; will retry at the next interval');
    }
  }

  /** Configured tokens, or one admin token generated once into the data dir (demo, npm start). */
  private apiTokens(): ApiToken[] {
    if (this.config.api.tokens.length) return this.config.api.tokens;
    const file = join(this.config.dataDir, 'api-token');
    if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
    this.log.warn({ file }, 'no API tokens configured: an admin token was generated into this file');
    return [{ name: 'local-admin', role: 'admin', sha256: hashToken(readFileSync(file, 'utf8').trim()) }];
  }

  private async startInflux(): Promise<void> {
    const c = this.config;
    let url = c.influx.url;
    if (!url && this.opts.localInflux) {
      const port = (await portOpen(8086)) ? 0 : 8086;
      try {
        this.influxd = await LocalInfluxd.start(join(c.dataDir, 'influxdb'), port, (m) => this.log.warn(m));
        url = this.influxd.url;
        this.log.info({ url }, 'no InfluxDB configured: local influxd started');
      } catch (e) {
        this.log.error({ err: (e as Error).message }, 'no InfluxDB configured and no local influxd could be started: data is kept in the spool until JL_INFLUX_URL is set');
      }
    } else if (!url) {
      this.log.error('no InfluxDB configured (JL_INFLUX_URL): data is kept in the spool');
    }
    if (url) {
      this.influxUrl = url;
      this.writer = new AutoWriter({ ...c.influx, url }, c.influx.api);
      try {
        await this.writer.init();
        this.log.info({ url, version: this.writer.server?.version, api: this.writer.api }, 'InfluxDB ready');
      } catch (e) {
        this.log.error({ url, err: (e as Error).message }, 'InfluxDB not reachable at start: spooling until it is');
      }
    }
  }

  /** After a restart, points still in the spool count as received (earlier) and `inSpool`. */
  private async restoreSpoolCounts(spool: Spool): Promise<void> {
    const pending = await spool.read(Number.MAX_SAFE_INTEGER);
    for (const rec of pending?.records ?? []) {
      for (const [s, n] of Object.entries(rec.sources)) {
        this.ledger.received(s, n);
        this.ledger.spooled(s, n);
      }
    }
    if (pending) this.log.warn({ points: this.ledger.totals().inSpool, bytes: spool.size }, 'spool holds data from a previous run: replaying');
  }

  ready(): { ok: boolean; checks: Record<string, boolean> } {
    const checks = { subscribed: !!this.source?.subscribed, mqttConnected: !!this.source?.connected, sinkReady: !!this.sink && (this.sink.up || !this.sink.spoolAlarm) };
    return { ok: Object.values(checks).every(Boolean), checks };
  }

  stats() {
    const ledger = this.ledger.snapshot();
    const t = ledger.totals;
    return {
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      balanced: t.received === t.stored + t.deadLettered + t.inSpool + this.runner.pendingMessages,
      pending: this.runner.pendingMessages,
      ...ledger,
      mqtt: { connected: this.source.connected, subscribed: this.source.subscribed, reconnects: this.source.reconnects, unacked: this.source.unacked, ignored: this.source.ignored },
      influx: { up: this.sink.up, api: this.writer?.api, version: this.writer?.server?.version, writes: this.sink.writes, writeErrors: this.sink.writeErrors },
      spool: { bytes: this.sink.spoolBytes, limit: this.config.spool.maxBytes, alarm: this.sink.spoolAlarm },
      detection: this.detection.stats(),
      incidents: this.incidents.counts(),
      alerts: { outbox: this.dispatcher.outbox.size, delivered: this.dispatcher.outbox.delivered, dropped: this.dispatcher.outbox.dropped, failures: this.dispatcher.failures },
      catalogue: { version: this.ctx.catalogue.version, entries: this.ctx.catalogue.entries.length, devices: this.ctx.registry.size, ...this.watcher.status },
    };
  }

  private progress(): void {
    const t = this.ledger.totals();
    const now = Date.now();
    const rate = ((t.received - this.lastProgress.received) * 1000) / Math.max(1, now - this.lastProgress.at);
    this.lastProgress = { at: now, received: t.received };
    this.log.info(
      { rate: Math.round(rate), ...t, spoolBytes: this.sink.spoolBytes, influxUp: this.sink.up, mqttConnected: this.source.connected },
      `progress: ${Math.round(rate)} msg/s, received ${t.received}, stored ${t.stored}, dead-lettered ${t.deadLettered}, in spool ${t.inSpool}${this.sink.up ? '' : ' (InfluxDB DOWN)'}`,
    );
  }

  /** Hook for measurements: called with each batch once it is durable. */
  onStored(fn: (readings: Reading[], at: number) => void): void {
    this.storedHook = fn;
  }

  /**
   * Stops cleanly: stops taking messages, writes and acknowledges what is pending, then closes
   * every stage. Messages that arrive meanwhile stay with the broker for the next run.
   */
  async stop(): Promise<void> {
    clearInterval(this.progressTimer);
    clearInterval(this.housekeeping);
    clearInterval(this.statsTimer);
    clearInterval(this.planTimer);
    this.source?.pause();
    await this.runner?.drain();
    if (this.selfStats && this.sink) await this.writeStats().catch(() => {});
    this.detection?.stop();
    this.dispatcher?.stop();
    this.incidents?.close();
    this.dispatcher?.outbox.close();
    await this.incidentPoints?.flush();
    await this.source?.stop().catch(() => {});
    await this.watcher?.close();
    await this.sink?.close();
    await this.deadLetters?.close();
    await this.http?.close();
    await this.broker?.close();
    await this.influxd?.stop();
    this.log.info({ ...this.ledger.totals() }, 'pipeline stopped');
  }
}
