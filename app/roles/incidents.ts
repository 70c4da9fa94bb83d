import mqtt from 'mqtt';
import type { Anomaly } from '../../core/anomaly.js';
import { Ledger } from '../../core/ledger.js';
import { LiveConfig } from '../../config/live-config.js';
import { KafkaSource } from '../../kafka/consumer-source.js';
import { headerOf, KIND_HEADER } from '../../kafka/records.js';
import { RegionAggregator } from '../../processors/anomaly/region/aggregator.js';
import { buildIncidentStage } from '../incident-stage.js';
import { connectInflux } from '../influx.js';
import { apiTokens } from '../pipeline.js';
import { clientConfig, roleDir, roleHttp, runningRole, type RoleContext, type RunningRole } from './role.js';
import { KIND_PARTIALS, type PartialsRecord } from './worker.js';

/**
 * The incident manager (SPEC 8): one member of the consumer group on `jl.anomalies`. Anomalies
 * are keyed by incident key, so exactly one manager owns each key: incidents are deduplicated
 * across workers and each hash-chained log has one writer for its keys. Region partials are
 * keyed by region, so one manager sums every worker's counts of a region and judges region
 * flood and region outage over all of them. Offsets are committed only after the incident log
 * has every change they caused (`persist`; the log fsyncs each record); alerts go out through
 * the durable outbox. Anomalies still below `incidents.openAfter` are counted in memory only.
 */
export async function startIncidents(ctx: RoleContext): Promise<RunningRole> {
  const { config, log } = ctx;
  const dir = roleDir(ctx);
  const live = await LiveConfig.load(config.catalogue, config.devices, log);
  const influx = await connectInflux(config, false, log);
  const client = config.mqtt.url ? await mqtt.connectAsync(config.mqtt.url, { clientId: `${config.mqtt.clientId}-${ctx.role}-${ctx.instance}`, username: config.mqtt.username, password: config.mqtt.password, reconnectPeriod: 1000 }) : undefined;
  const publish = (topic: string, body: string) => (client ? client.publishAsync(topic, body, { qos: 1 }).then(() => undefined) : Promise.resolve());
  const stage = buildIncidentStage(config, dir, log, publish, () => influx.writer, { influxUrl: influx.url, mqttUrl: config.mqtt.url ?? '' });
  const aggregator = new RegionAggregator({ flood: config.detection.flood, silence: config.detection.silence }, { ttlMs: 3 * config.kafka.partialsEveryMs + config.kafka.sessionTimeoutMs });
  const counts = { anomalies: 0, partials: 0, regionAnomalies: 0, malformed: 0 };
  const observe = (a: Anomaly) => stage.incidents.observe(a);

  const anomalies = new KafkaSource(
    {
      name: 'anomalies',
      topic: config.kafka.topics.anomalies,
      groupId: config.kafka.groups.incidents,
      client: clientConfig(ctx),
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      // Each commit first writes the merges held in memory to the log: not more often than the log's own throttle.
      commitEveryMs: Math.max(config.kafka.commitEveryMs, config.incidents.logUpdatesEveryMs),
      maxUnsettled: config.kafka.maxUnsettled,
      beforeCommit: async () => stage.incidents.persist(),
      toMessage: (m) => {
        try {
          const value = JSON.parse(m.value?.toString('utf8') ?? '') as unknown;
          if (headerOf(m.headers, KIND_HEADER) === KIND_PARTIALS) {
            const p = value as PartialsRecord;
            aggregator.add(p.source, p.partials, p.at);
            counts.partials++;
          } else {
            observe(value as Anomaly);
            counts.anomalies++;
          }
        } catch (e) {
          counts.malformed++;
          log.warn({ partition: m.partition, offset: m.offset, err: (e as Error).message }, 'record on the anomalies topic is not an anomaly: skipped');
        }
        return undefined; // settled now; committed only after `persist` wrote it to the log
      },
    },
    log,
  );
  const judge = setInterval(() => {
    try {
      aggregator.evaluate((a) => {
        counts.regionAnomalies++;
        observe(a);
      });
    } catch (e) {
      log.error({ err: (e as Error).message }, 'judging region partials failed');
    }
  }, 1000);
  judge.unref();

  const ledger = new Ledger();
  const tokens = apiTokens({ ...config, dataDir: dir }, log);
  const ready = () => {
    const checks = { incidentLogWritable: stage.incidents.logWritable };
    return { ok: Object.values(checks).every(Boolean), checks };
  };
  const stats = () => ({ role: ctx.role, instance: ctx.instance, records: counts, incidents: stage.incidents.counts(), regions: { devicesOnline: aggregator.devicesOnline() }, alerts: { outbox: stage.dispatcher.outbox.size, delivered: stage.dispatcher.outbox.delivered }, kafka: { consumers: [anomalies.stats()] } });
  const http = await roleHttp(ctx, { ready, stats, ledger, consumers: () => [anomalies], catalogue: () => live.catalogue(), tokens: () => tokens, incidents: stage.incidents, subscriptions: stage.subscriptions, delivery: stage.dispatcher, verifyChain: stage.verifyChain });
  stage.start();
  anomalies.start(() => {});
  return runningRole(ctx, http, ready, stats, async () => {
    clearInterval(judge);
    await anomalies.stop();
    await stage.stop();
    await client?.endAsync();
    await influx.writer?.close();
    await live.close();
    await http.close();
    log.info({ ...counts }, 'incident manager stopped');
  });
}
