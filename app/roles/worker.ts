import type { Anomaly } from '../../core/anomaly.js';
import { Ledger } from '../../core/ledger.js';
import type { Stage } from '../../core/runtime/runtime.js';
import type { Outcome, RawMessage } from '../../core/types.js';
import { incidentKey } from '../../alerts/incident.js';
import { PipelineStats } from '../../capacity/statistics.js';
import { LiveConfig } from '../../config/live-config.js';
import { KafkaSource } from '../../kafka/consumer-source.js';
import type { OutRecord } from '../../kafka/producer.js';
import { KIND_HEADER, readingFromRecord, rejectionFromNotice } from '../../kafka/records.js';
import { DetectionEngine } from '../../processors/anomaly/engine.js';
import { regionKey, type RegionPartial } from '../../processors/anomaly/region/partials.js';
import { InfluxOutput, NoOutput } from '../../storage/influx/output.js';
import { connectInflux } from '../influx.js';
import { apiTokens } from '../pipeline.js';
import { addressPort, headerOf } from './gateway.js';
import { StateHandover } from './handover.js';
import { clientConfig, connectProducer, deliveryRuntime, roleDir, roleHttp, roleId, roleReporter, type RoleContext, type RunningRole } from './role.js';

export const KIND_ANOMALY = 'anomaly';
export const KIND_PARTIALS = 'partials';

/** A worker's region partials as they go to jl.anomalies, keyed by region. */
export interface PartialsRecord {
  source: string;
  at: number;
  partials: RegionPartial[];
}

/**
 * A worker (SPEC 8): one member of the consumer group on `jl.readings`. A device's records
 * always reach the worker that owns its partition, so its detector state lives here (and is
 * handed over through jl.state, see StateHandover). Readings go to InfluxDB through the same
 * delivery runtime as the single process; offsets are committed only once the writes they
 * cover are durable (stored or spooled); while InfluxDB is down the worker pauses its
 * partitions (Kafka keeps the rest). A record that is not a reading is dead-lettered to
 * jl.dlq once. Anomalies go to jl.anomalies keyed by incident key, and each second the
 * worker's region partial counts, keyed by region, for the incident managers to judge.
 */
export async function startWorker(ctx: RoleContext): Promise<RunningRole> {
  const { config, log } = ctx;
  const dir = roleDir(ctx);
  const id = roleId(ctx);
  const live = await LiveConfig.load(config.catalogue, config.devices, log);
  const producer = await connectProducer(ctx);
  const influx = await connectInflux(config, false, log);
  const ledger = new Ledger();
  const topics = config.kafka.topics;

  // Anomalies leave as they are found; offsets are committed only after they are confirmed:
  // one that failed is sent again before the next commit, which waits for it.
  const unsent = new Set<OutRecord>();
  const send = (r: OutRecord) => producer.send([r]).then(() => void unsent.delete(r));
  const onAnomaly = (a: Anomaly) => {
    const r: OutRecord = { topic: topics.anomalies, key: incidentKey(a), value: Buffer.from(JSON.stringify(a)), headers: [{ [KIND_HEADER]: KIND_ANOMALY }] };
    unsent.add(r);
    send(r).catch((e: Error) => log.warn({ err: e.message }, 'anomaly not produced yet; sent again before the next commit'));
  };
  const anomaliesConfirmed = async () => {
    await producer.flush();
    await Promise.all([...unsent].map(send));
  };
  const detection = new DetectionEngine({ ...config.detection, regionPartials: true }, live, onAnomaly, log);
  const handover = new StateHandover(detection, producer, clientConfig(ctx), topics.state, config.kafka.stateCheckpointMs, log);
  const detectionStage: Stage = {
    name: 'detection',
    observe(outcome: Outcome, msg: RawMessage) {
      if (!handover.skip(outcome, msg)) detection.observe(outcome);
    },
  };
  const statistics = new PipelineStats(live, config.capacity, id);
  const output = influx.writer ? new InfluxOutput(influx.writer) : new NoOutput();
  const delivery = deliveryRuntime(ctx, { decode: readingFromRecord, stages: [detectionStage, statistics] }, output, producer, ledger, false);
  const { runtime } = delivery;
  runtime.on('stored', (readings, at) => statistics.stored(readings, at));

  const readings = new KafkaSource(
    {
      name: 'readings',
      topic: topics.readings,
      groupId: config.kafka.groups.workers,
      client: clientConfig(ctx),
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      commitEveryMs: config.kafka.commitEveryMs,
      maxUnsettled: config.kafka.maxUnsettled,
      holdAll: () => !runtime.health().outputUp,
      onAssign: handover.assign,
      onRevoke: handover.revoke,
      beforeCommit: anomaliesConfirmed,
      toMessage: (m) => {
        const msg: RawMessage = { topic: `${m.topic}/${String(m.key ?? '')}`, payload: m.value ?? Buffer.alloc(0), receivedAt: Date.now(), kafka: { partition: m.partition, offset: m.offset } };
        if (headerOf(m.headers, KIND_HEADER) !== 'rejection') return msg;
        // A gateway's rejection notice: for the detectors only (its dead letter exists already).
        const rejection = rejectionFromNotice(msg.payload);
        const outcome: Outcome | undefined = rejection && { ok: false, rejection };
        if (outcome && !handover.skip(outcome, msg)) detection.observe(outcome);
        return undefined;
      },
    },
    log,
  );

  const partialsTimer = setInterval(() => {
    const byRegion = new Map<string, RegionPartial[]>();
    for (const p of detection.regionPartials()) {
      const k = regionKey(p);
      byRegion.set(k, [...(byRegion.get(k) ?? []), p]);
    }
    const records: OutRecord[] = [...byRegion].map(([k, partials]) => ({ topic: topics.anomalies, key: k, value: Buffer.from(JSON.stringify({ source: `${id}|${k}`, at: Date.now(), partials } satisfies PartialsRecord)), headers: [{ [KIND_HEADER]: KIND_PARTIALS }] }));
    producer.send(records).catch((e: Error) => log.warn({ err: e.message }, 'region partials not produced'));
  }, config.kafka.partialsEveryMs);
  partialsTimer.unref();

  // The worker stores the readings, so it counts them (pipeline_stats); instance = roleId.
  const reporter = roleReporter(ctx, {
    statistics,
    consumers: () => [readings],
    writer: () => (runtime.health().outputUp ? influx.writer : undefined),
    onAnomaly,
    snapshot: () => {
      const h = runtime.health();
      return { ...ledger.totals(), pending: h.pending, spoolBytes: delivery.spool.size, spoolLimit: delivery.spool.limit, influxUp: h.outputUp, anomalies: Object.values(detection.stats().anomalies).reduce((a, b) => a + b, 0), outbox: unsent.size };
    },
  });

  const tokens = apiTokens({ ...config, dataDir: dir }, log);
  const ready = () => {
    const checks = { ...runtime.checks(), partitionsOwned: readings.stats().partitions.length > 0 };
    return { ok: Object.values(checks).every(Boolean), checks, detail: { pending: runtime.health().pending, influxUp: runtime.health().outputUp } };
  };
  const stats = () => {
    const t = ledger.totals();
    const h = runtime.health();
    return { role: ctx.role, instance: ctx.instance, ...ledger.snapshot(), balanced: t.received === t.stored + t.deadLettered + t.inSpool + t.nacked + h.pending, pending: h.pending, delivery: h, detection: detection.stats(), state: handover.counts, kafka: { consumers: [readings.stats()], produced: producer.counts } };
  };
  const http = await roleHttp(ctx, { ready, stats, ledger, runtime, consumers: () => [readings], catalogue: () => live.catalogue(), tokens: () => tokens });
  detection.start();
  handover.start();
  reporter.start();
  readings.start((env) => runtime.handle(env));
  log.info({ role: ctx.role, instance: ctx.instance, port: addressPort(http) }, 'HTTP API listening');

  return {
    role: ctx.role,
    instance: ctx.instance,
    get httpPort() {
      return addressPort(http);
    },
    ready,
    stats,
    stop: async () => {
      clearInterval(partialsTimer);
      readings.pause();
      await runtime.stop(config.delivery.stopGraceMs);
      await reporter.stop();
      await handover.stop();
      await readings.stop();
      detection.stop();
      await producer.close();
      await delivery.close();
      await influx.writer?.close();
      await live.close();
      await http.close();
      log.info({ ...ledger.totals() }, 'worker stopped');
    },
  };
}
