import { PipelineStats } from '../../capacity/statistics.js';
import { Ledger } from '../../core/ledger.js';
import { LiveConfig } from '../../config/live-config.js';
import { KafkaSource } from '../../kafka/consumer-source.js';
import { KafkaReadingsOutput } from '../../kafka/outputs.js';
import { ingestRecordToMessage } from '../../kafka/records.js';
import { MqttSource } from '../../ingest/mqtt/source.js';
import { UnknownFieldsReport } from '../../processors/unknown-fields.js';
import { personalRedactor, validateAndTag, type TagContext } from '../../processors/validate-and-tag.js';
import { connectInflux } from '../influx.js';
import { apiTokens, pseudonymKey } from '../pipeline.js';
import { clientConfig, connectProducer, deliveryRuntime, roleDir, roleHttp, roleId, roleReporter, runningRole, type RoleContext, type RunningRole } from './role.js';

/**
 * The gateway (SPEC 8): MQTT (a shared subscription across gateways) and `jl.ingest` in;
 * validate, tag and pseudonymise (stateless); readings out to `jl.readings` keyed by device,
 * rejections to `jl.dlq` (and to disk). The same delivery runtime as the single process, with
 * Kafka as its output: an MQTT PUBACK, or a `jl.ingest` commit, goes out only once the brokers'
 * delivery report confirmed the record (or it is in the gateway's spool while Kafka is down).
 */
export async function startGateway(ctx: RoleContext): Promise<RunningRole> {
  const { config, log } = ctx;
  const dir = roleDir(ctx);
  const live = await LiveConfig.load(config.catalogue, config.devices, log);
  const producer = await connectProducer(ctx);
  const ledger = new Ledger();
  const tag: TagContext = { catalogue: () => live.catalogue(), registry: () => live.registry(), pseudonymKey: pseudonymKey({ ...config, dataDir: config.dataDir }), maxPayloadBytes: config.limits.maxPayloadBytes, futureToleranceMs: config.limits.futureToleranceMs };
  // Statistics only with an InfluxDB to write them to. A gateway reports its own rejections and
  // health, not readings: the worker that stores a reading counts it (no double counting).
  const influx = config.influx.url ? await connectInflux(config, false, log) : undefined;
  const statistics = influx?.writer ? new PipelineStats(live, config.capacity, roleId(ctx), { readings: false }) : undefined;
  const delivery = deliveryRuntime(ctx, { decode: (msg) => validateAndTag(tag, msg), stages: [...(statistics ? [statistics] : []), new UnknownFieldsReport(log)], redact: personalRedactor(tag) }, new KafkaReadingsOutput(producer, config.kafka.topics.readings), producer, ledger, true);
  const { runtime } = delivery;
  if (statistics) runtime.on('stored', (readings, at) => statistics.stored(readings, at));

  if (!config.mqtt.url) throw new Error('the gateway role needs mqtt.url (JL_MQTT_URL)');
  const mqtt = new MqttSource({ ...config.mqtt, url: config.mqtt.url, clientId: `${config.mqtt.clientId}-${roleId(ctx)}`, shareGroup: config.mqtt.shareGroup ?? 'jl-gateways' }, log);
  const ingest = new KafkaSource(
    {
      name: 'ingest',
      topic: config.kafka.topics.ingest,
      groupId: config.kafka.groups.gateways,
      client: clientConfig(ctx),
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      commitEveryMs: config.kafka.commitEveryMs,
      maxUnsettled: config.kafka.maxUnsettled,
      toMessage: (m) => ingestRecordToMessage(m),
    },
    log,
  );
  const reporter = statistics
    ? roleReporter(ctx, {
        statistics,
        consumers: () => [ingest],
        writer: () => influx?.writer,
        snapshot: () => {
          const h = runtime.health();
          // influx_up is the runtime's output (Kafka here), as on the role's /metrics.
          return { ...ledger.totals(), pending: h.pending, spoolBytes: delivery.spool.size, spoolLimit: delivery.spool.limit, influxUp: h.outputUp, mqttConnected: mqtt.connected, reconnects: mqtt.reconnects, anomalies: 0, outbox: 0 };
        },
      })
    : undefined;
  const tokens = apiTokens({ ...config, dataDir: dir }, log);
  const ready = () => {
    const checks = { mqttConnected: mqtt.connected, subscribed: mqtt.subscribed, ...runtime.checks() };
    return { ok: Object.values(checks).every(Boolean), checks, detail: { pending: runtime.health().pending } };
  };
  const stats = () => {
    const t = ledger.totals();
    const h = runtime.health();
    return { role: ctx.role, instance: ctx.instance, ...ledger.snapshot(), balanced: t.received === t.stored + t.deadLettered + t.inSpool + t.nacked + h.pending, pending: h.pending, delivery: h, mqtt: { connected: mqtt.connected, unacked: mqtt.unacked }, kafka: { consumers: [ingest.stats()], produced: producer.counts } };
  };
  const http = await roleHttp(ctx, { ready, stats, ledger, runtime, consumers: () => [ingest], catalogue: () => live.catalogue(), tokens: () => tokens, mqtt: () => ({ connected: mqtt.connected, reconnects: mqtt.reconnects }) });
  reporter?.start();
  runtime.on('pressure', (on) => mqtt.throttle(on));
  mqtt.start((env) => runtime.handle(env));
  ingest.start((env) => runtime.handle(env));

  return runningRole(ctx, http, ready, stats, async () => {
    mqtt.pause();
    ingest.pause();
    await runtime.stop(config.delivery.stopGraceMs);
    await reporter?.stop();
    await ingest.stop();
    await mqtt.stop().catch(() => {});
    await producer.close();
    await delivery.close();
    await influx?.writer?.close();
    await live.close();
    await http.close();
    log.info({ ...ledger.totals() }, 'gateway stopped');
  });
}
