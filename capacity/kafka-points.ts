import { Point } from '@influxdata/influxdb-client';
import type { ConsumerStats } from '../core/consumer.js';

/** One Kafka consumer as the statistics read it (KafkaSource.stats()). */
export type KafkaConsumerFigures = Pick<ConsumerStats, 'topic' | 'group' | 'partitions' | 'lag' | 'totalLag' | 'rebalances' | 'commits' | 'commitErrors' | 'commitMs' | 'paused'>;

/** Which process the points come from: tags of every point. */
export interface KafkaPointsSource {
  /** gateway, worker or incidents. */
  role: string;
  /** Unique per process (a role's roleId, e.g. `worker-2`). */
  instance: string;
}

export const KAFKA_MEASUREMENT = 'pipeline_kafka';
export const KAFKA_PARTITION_MEASUREMENT = 'pipeline_kafka_partition';

/**
 * A Kafka role's consumers as line protocol, once per statistics interval (SPEC 8):
 *
 * - `pipeline_kafka`, one point per consumer, tags role, instance, topic, group; fields lag
 *   (total), partitions (owned), paused (0/1), rebalances, commits, commit_errors (counters
 *   since the process started: the dashboard takes their increase), and commit_ms_max, the
 *   slowest commit of this interval (left out when the interval made none).
 * - `pipeline_kafka_partition`, one point per owned partition, the same tags plus partition;
 *   field lag. A measurement of its own, so sums over `pipeline_kafka` never count a lag twice.
 *
 * Pure apart from remembering the commit count of the previous interval per consumer.
 */
export class KafkaPoints {
  private readonly commitsBefore = new Map<string, number>();

  constructor(private readonly source: KafkaPointsSource) {}

  lines(consumers: KafkaConsumerFigures[], now: number): string[] {
    const at = new Date(now);
    const out: string[] = [];
    for (const c of consumers) {
      const key = `${c.topic}|${c.group}`;
      const before = this.commitsBefore.get(key);
      this.commitsBefore.set(key, c.commits);
      // Commits of this interval; the first interval (or after the counter went back) takes them all.
      const fresh = before === undefined || c.commits < before ? c.commits : c.commits - before;
      const recent = fresh > 0 ? c.commitMs.slice(-fresh) : [];
      const tagged = (measurement: string) => new Point(measurement).tag('role', this.source.role).tag('instance', this.source.instance).tag('topic', c.topic).tag('group', c.group);
      const p = tagged(KAFKA_MEASUREMENT)
        .intField('lag', c.totalLag)
        .intField('partitions', c.partitions.length)
        .intField('paused', c.paused ? 1 : 0)
        .intField('rebalances', c.rebalances)
        .intField('commits', c.commits)
        .intField('commit_errors', c.commitErrors);
      if (recent.length) p.floatField('commit_ms_max', Math.max(...recent));
      out.push(p.timestamp(at).toLineProtocol()!);
      for (const partition of c.partitions) {
        out.push(
          tagged(KAFKA_PARTITION_MEASUREMENT)
            .tag('partition', String(partition))
            .intField('lag', c.lag[partition] ?? 0)
            .timestamp(at)
            .toLineProtocol()!,
        );
      }
    }
    return out;
  }
}
