import { join } from 'node:path';
import type { Logger } from 'pino';
import { AlertDispatcher } from '../alerts/dispatcher.js';
import { EgressPolicy } from '../alerts/egress.js';
import { checkpointLine, loadLogKey, logKeyFile, verifyLog, type VerifyResult } from '../alerts/incident-log.js';
import { incidentLine, openGaugeLines } from '../alerts/incident-points.js';
import { IncidentManager } from '../alerts/incidents.js';
import { Outbox } from '../alerts/outbox.js';
import { SubscriptionStore } from '../alerts/subscriptions.js';
import type { AutoWriter } from '../storage/influx/auto-writer.js';
import { BestEffortLines } from '../storage/influx/best-effort.js';
import type { PipelineConfig } from './config.js';

/** Incidents and alert delivery as one stage: what the single process and the incidents role share. */
export interface IncidentStage {
  incidents: IncidentManager;
  subscriptions: SubscriptionStore;
  dispatcher: AlertDispatcher;
  /** The dashboards' copy of incident events and open-incident gauges. */
  points: BestEffortLines;
  /** Checks the incident log's chain and MACs (the console's chain check). */
  verifyChain: () => VerifyResult;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Builds incidents (hash-chained log in `dataDir/incidents`, HMAC key outside it, checkpoints
 * to InfluxDB and every subscriber) and alert delivery (subscriptions, durable outbox, webhooks
 * under the egress policy, MQTT alerts through `publish`). `sideWriter` is read at flush time:
 * the dashboards' copy is written only while InfluxDB is up.
 */
export function buildIncidentStage(config: PipelineConfig, dataDir: string, log: Logger, publish: (topic: string, body: string) => Promise<void>, sideWriter: () => AutoWriter | undefined, own: { influxUrl?: string; mqttUrl: string }): IncidentStage {
  // Webhooks may not reach the pipeline's own InfluxDB and broker unless listed (alerts.egress).
  const egress = new EgressPolicy(config.alerts.egress, [{ name: 'InfluxDB', url: own.influxUrl ?? '' }, { name: 'MQTT broker', url: own.mqttUrl }]);
  const subscriptions = new SubscriptionStore(join(dataDir, 'subscriptions.json'), egress);
  const dispatcher = new AlertDispatcher(subscriptions, new Outbox(join(dataDir, 'alerts', 'outbox.jsonl')), config.alerts, log, egress, publish);
  // Incident events as they happen, and every 10 s the open incidents per level (a gauge).
  const points = new BestEffortLines('incident points', sideWriter, log, { flushEveryMs: 1000, periodic: { everyMs: 10_000, lines: () => openGaugeLines(incidents.all(), Date.now()) } });
  // The whole log is written to InfluxDB again at start (points overwrite), so dashboards catch up.
  // Log records are HMAC'd under a key kept outside the data dir; head checkpoints go off the host.
  const logKey = loadLogKey(logKeyFile(config.file, config.incidents.logKeyFile), dataDir, process.env, log);
  const logFile = join(dataDir, 'incidents', 'incidents.log');
  const incidents = new IncidentManager(logFile, config.incidents, log, Date.now, (r) => points.push([incidentLine(r.event, r.incident, r.at, r.n)]), {
    key: logKey,
    // The head of the log, anchored off this host: in InfluxDB and with every subscriber.
    onCheckpoint: (c) => {
      points.push([checkpointLine(c)]);
      dispatcher.onCheckpoint(c);
    },
  });
  incidents.on(dispatcher.onIncident);
  incidents.on((event, inc, n) => points.push([incidentLine(event, inc, Date.now(), n)]));
  return {
    incidents,
    subscriptions,
    dispatcher,
    points,
    verifyChain: () => verifyLog(logFile, { key: logKey }),
    start() {
      points.start();
      dispatcher.start();
      incidents.start();
    },
    async stop() {
      dispatcher.stop();
      incidents.close();
      dispatcher.outbox.close();
      await points.stop();
    },
  };
}
