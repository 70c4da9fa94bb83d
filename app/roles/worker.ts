import { LatencyMetrics } from '../../server/metrics.js';
import type { Anomaly } from '../../core/anomaly.js';
import { Ledger } from '../../core/ledger.js';
import type { Stage } from '../../core/runtime/runtime.js';
import type { Outcome, RawMessage } from '../../core/types.js';
import { incidentKey } from '../../alerts/incident.js';
import { PipelineStats } from '../../capacity/statistics.js';
import { LiveConfig } from '../../config/live-config.js';
import { KafkaSource } from '../../kafka/consumer-source.js';
import type { OutRecord } from '../../kafka/producer.js';
import { headerOf, KIND_HEADER, readingFromRecord, rejectionFromNotice } from '../../kafka/records.js';
import { DetectionEngine } from '../../processors/anomaly/engine.js';
import { regionKey, type RegionPartial } from '../../processors/anomaly/region/partials.js';
import { InfluxOutput, NoOutput } from '../../storage/influx/output.js';
import { connectInflux } from '../influx.js';
import { apiTokens } from '../pipeline.js';
import { StateHandover } from './handover.js';
import { PartitionClock } from './partition-clock.js';
import { clientConfig, connectProducer, deliveryRuntime, roleDir, roleHttp, roleId, roleReporter, runningRole, type RoleContext, type RunningRole } from './role.js';

export const KIND_ANOMALY = 'anomaly';
/** Region partial records kept for a later report while Kafka refuses them (then the oldest go). */
const MAX_UNSENT_PARTIALS = 10_000;
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
  // the commit waits for those in flight, and sends again the ones that failed (a failure
  // there fails the commit, which is tried again at the next one).
  const inFlight = new Set<Promise<void>>();
  const failed = new Set<OutRecord>();
  const send = (r: OutRecord) => {
    const p = producer.send([r]).catch((e: Error) => {
      failed.add(r);
      log.warn({ err: e.message }, 'anomaly not produced yet; sent again before the next commit');
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const onAnomaly = (a: Anomaly) => send({ topic: topics.anomalies, key: incidentKey(a), value: Buffer.from(JSON.stringify(a)), headers: [{ [KIND_HEADER]: KIND_ANOMALY }] });
  const anomaliesConfirmed = async () => {
    await Promise.all(inFlight);
    const retry = [...failed];
    failed.clear();
    if (!retry.length) return;
    try {
      await producer.send(retry);
    } catch (e) {
      for (const r of retry) failed.add(r);
      throw e;
    }
  };
  const detection = new DetectionEngine({ ...config.detection, regionPartials: true }, live, onAnomaly, log);
  const handover = new StateHandover(detection, producer, clientConfig(ctx), topics.state, config.kafka.stateCheckpointMs, log);
  // Each device's absence is judged at its own partition's watermark (see PartitionClock).
  // Lag as of at most 200 ms ago: asked for every device of a tick, read once.
  const lag = { at: 0, of: {} as Record<number, number> };
  const clock = new PartitionClock((p) => {
    const now = Date.now();
    if (now - lag.at > 200) Object.assign(lag, { at: now, of: readings.stats().lag });
    return !lag.of[p];
  });
  detection.setDeviceWatermark((device, watermark, now) => {
    const partition = handover.partitionOf(device);
    return (partition !== undefined && clock.watermark(partition, now)) || watermark;
  });
  const detectionStage: Stage = {
    name: 'detection',
    observe(outcome: Outcome, msg: RawMessage) {
      if (outcome.ok && msg.kafka) clock.saw(msg.kafka.partition, outcome.reading.eventMs, Date.now());
      if (!handover.skip(outcome, msg)) detection.observe(outcome);
      // Absence is judged as each partition's event time moves on, not only the fastest's: a
      // partition behind the others may cross a device's silence limit between two ticks.
      if (msg.kafka && clock.advanced(msg.kafka.partition, config.detection.tickMs)) detection.tick();
    },
  };
  const statistics = new PipelineStats(live, config.capacity, id);
  const output = influx.writer ? new InfluxOutput(influx.writer) : new NoOutput();
  const delivery = deliveryRuntime(ctx, { decode: readingFromRecord, stages: [detectionStage, statistics] }, output, producer, ledger, false);
  const { runtime } = delivery;
  runtime.on('stored', (readings, at) => statistics.stored(readings, at));
  const latency = LatencyMetrics.of(runtime);

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
      onAssign: async (partitions) => {
        await handover.assign(partitions);
        clock.assigned(partitions, (p) => handover.restoredEventTime(p));
      },
      onRevoke: handover.revoke,
      // The detector state goes out before the offsets it covers are committed: a new owner
      // starting from the commit then has every record before it in the state it restores.
      beforeCommit: async () => {
        await handover.checkpoint();
        await anomaliesConfirmed();
      },
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

  // Region partials are what changed since the last report (per event-time window and bucket),
  // so none may be lost or overtaken: one send at a time, and a failed one goes again first.
  let partialsInFlight = false;
  let unsentPartials: OutRecord[] = [];
  const partialsTimer = setInterval(() => {
    if (partialsInFlight) return; // the detectors keep accumulating until the next report
    const byRegion = new Map<string, RegionPartial[]>();
    for (const p of detection.regionPartials()) {
      const k = regionKey(p);
      byRegion.set(k, [...(byRegion.get(k) ?? []), p]);
    }
    const fresh: OutRecord[] = [...byRegion].map(([k, partials]) => ({ topic: topics.anomalies, key: k, value: Buffer.from(JSON.stringify({ source: `${id}|${k}`, at: Date.now(), partials } satisfies PartialsRecord)), headers: [{ [KIND_HEADER]: KIND_PARTIALS }] }));
    const records = [...unsentPartials, ...fresh].slice(-MAX_UNSENT_PARTIALS);
    unsentPartials = [];
    if (!records.length) return;
    partialsInFlight = true;
    producer
      .send(records)
      .catch((e: Error) => {
        unsentPartials = records;
        log.warn({ err: e.message, records: records.length }, 'region partials not produced; sent again with the next report');
      })
      .finally(() => (partialsInFlight = false));
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
      return { ...ledger.totals(), pending: h.pending, spoolBytes: delivery.spool.size, spoolLimit: delivery.spool.limit, influxUp: h.outputUp, anomalies: Object.values(detection.stats().anomalies).reduce((a, b) => a + b, 0), outbox: failed.size + inFlight.size };
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
  const http = await roleHttp(ctx, { ready, stats, ledger, runtime, consumers: () => [readings], catalogue: () => live.catalogue(), tokens: () => tokens, latency });
  detection.start();
  handover.start();
  reporter.start();
  readings.start((env) => runtime.handle(env));

  return runningRole(ctx, http, ready, stats, async () => {
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
  });
}
