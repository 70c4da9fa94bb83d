import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConsumerStats } from '../core/consumer.js';

/** One Kafka consumer as the metrics read it (KafkaSource.stats()). */
export type KafkaConsumerReadings = Pick<ConsumerStats, 'topic' | 'group' | 'partitions' | 'lag' | 'rebalances' | 'commits' | 'commitErrors' | 'commitMs' | 'paused'>;

/**
 * The scale-out metrics (SPEC 8): lag per owned partition, partitions owned, rebalances,
 * commits and their latency, and whether the member holds its partitions (output down).
 */
export function kafkaMetrics(registry: Registry, read: () => KafkaConsumerReadings[]): void {
  const labelNames = ['topic', 'group'];
  new Gauge({
    name: 'jl_kafka_consumer_lag',
    help: 'Records behind the newest offset, per owned partition.',
    labelNames: [...labelNames, 'partition'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of read()) for (const [p, n] of Object.entries(c.lag)) this.set({ topic: c.topic, group: c.group, partition: p }, n);
    },
  });
  // One series per consumer, read afresh at each scrape; counters are set to the member's own totals.
  const collectEach = (pick: (c: KafkaConsumerReadings) => number) =>
    function (this: Gauge | Counter) {
      this.reset();
      for (const c of read()) {
        const labels = { topic: c.topic, group: c.group };
        if (this instanceof Gauge) this.set(labels, pick(c));
        else this.inc(labels, pick(c));
      }
    };
  const perConsumer = (name: string, help: string, pick: (c: KafkaConsumerReadings) => number) => new Gauge({ name, help, labelNames, registers: [registry], collect: collectEach(pick) });
  perConsumer('jl_kafka_partitions_owned', 'Partitions this member owns.', (c) => c.partitions.length);
  perConsumer('jl_kafka_paused', '1 while the member holds its partitions (output down or too much unsettled).', (c) => Number(c.paused));
  perConsumer('jl_kafka_commit_latency_seconds', 'Latency of the slowest of the latest offset commits.', (c) => Math.max(0, ...c.commitMs) / 1000);
  const counter = (name: string, help: string, pick: (c: KafkaConsumerReadings) => number) => new Counter({ name, help, labelNames, registers: [registry], collect: collectEach(pick) });
  counter('jl_kafka_rebalances_total', 'Rebalances this member took part in (assign and revoke).', (c) => c.rebalances);
  counter('jl_kafka_commits_total', 'Offset commits.', (c) => c.commits);
  counter('jl_kafka_commit_errors_total', 'Offset commits that failed (retried at the next).', (c) => c.commitErrors);
}
