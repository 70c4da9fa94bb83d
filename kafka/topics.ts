import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { KafkaConfig } from './config.js';

const TOPIC_ALREADY_EXISTS = 36;
const UNANSWERED = new Error('CreateTopics not answered');

/** The topics of the topology with their settings: jl.state is compacted (a changelog). */
export function topicSpecs(cfg: KafkaConfig): { topic: string; config: Record<string, string> }[] {
  const retention = { 'retention.ms': String(cfg.retentionMs) };
  const t = cfg.topics;
  return [
    { topic: t.readings, config: retention },
    { topic: t.dlq, config: retention },
    { topic: t.ingest, config: retention },
    { topic: t.anomalies, config: retention },
    { topic: t.state, config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '60000' } },
  ];
}

/**
 * Creates the missing topics with the configured partitions and replication (admin client).
 * A broker that does not answer CreateTopics (librdkafka's mock cluster: its host creates them)
 * is logged and start-up goes on; any other refusal (e.g. replication above the broker count)
 * stops start-up with the broker's reason.
 */
export async function ensureTopics(cfg: KafkaConfig, client: Record<string, string | number | boolean>, existing: Map<string, number>, log: Logger): Promise<void> {
  // A device's state goes to the partition of its readings: the two topics must match.
  const [readings, state] = [existing.get(cfg.topics.readings), existing.get(cfg.topics.state)];
  if (readings !== undefined && state !== undefined && readings !== state) {
    throw new Error(`Kafka topics ${cfg.topics.readings} (${readings} partitions) and ${cfg.topics.state} (${state}) must have the same partition count: a device's detector state is kept in the partition number of its readings`);
  }
  const missing = topicSpecs(cfg).filter((s) => !existing.has(s.topic));
  if (!missing.length) return;
  const admin = Kafka.AdminClient.create({ ...client, 'client.id': `${String(client['client.id'])}-admin` });
  try {
    for (const s of missing) {
      await new Promise<void>((resolve, reject) => {
        admin.createTopic({ topic: s.topic, num_partitions: cfg.partitions, replication_factor: cfg.replication, config: s.config }, 10_000, (err) => {
          if (!err || err.code === TOPIC_ALREADY_EXISTS) return resolve();
          if (err.message.includes('Timed out')) {
            log.warn({ topic: s.topic }, 'CreateTopics not answered (a mock cluster creates its own): topics are created on first use');
            return reject(UNANSWERED);
          }
          reject(new Error(`Kafka refused to create topic ${s.topic} (${cfg.partitions} partitions, replication ${cfg.replication}): ${err.message}`));
        });
      });
    }
  } catch (e) {
    if (e !== UNANSWERED) throw e;
  } finally {
    admin.disconnect();
  }
}
