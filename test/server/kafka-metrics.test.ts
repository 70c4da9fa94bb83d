import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { kafkaMetrics, type KafkaConsumerReadings } from '../../server/kafka-metrics.js';

const consumer = (over: Partial<KafkaConsumerReadings>): KafkaConsumerReadings => ({ topic: 'jl.readings', group: 'jl-workers', partitions: [0, 3], lag: { 0: 12, 3: 0 }, rebalances: 2, commits: 40, commitErrors: 1, commitMs: [4, 9], paused: false, ...over });

describe('Kafka consumer metrics', () => {
  it('exposes lag per partition, partitions owned, pause, commit latency, rebalances and commits, read afresh at each scrape', async () => {
    const registry = new Registry();
    let readings = [consumer({})];
    kafkaMetrics(registry, () => readings);
    const text = await registry.metrics();
    expect(text).toContain('jl_kafka_consumer_lag{topic="jl.readings",group="jl-workers",partition="0"} 12');
    expect(text).toContain('jl_kafka_consumer_lag{topic="jl.readings",group="jl-workers",partition="3"} 0');
    expect(text).toContain('jl_kafka_partitions_owned{topic="jl.readings",group="jl-workers"} 2');
    expect(text).toContain('jl_kafka_paused{topic="jl.readings",group="jl-workers"} 0');
    expect(text).toContain('jl_kafka_commit_latency_seconds{topic="jl.readings",group="jl-workers"} 0.009');
    expect(text).toContain('jl_kafka_rebalances_total{topic="jl.readings",group="jl-workers"} 2');
    expect(text).toContain('jl_kafka_commits_total{topic="jl.readings",group="jl-workers"} 40');
    expect(text).toContain('jl_kafka_commit_errors_total{topic="jl.readings",group="jl-workers"} 1');
    // A rebalance later: partitions moved, the old partition's lag series is gone, counters are the member's totals.
    readings = [consumer({ partitions: [3], lag: { 3: 5 }, rebalances: 4, commits: 41, paused: true })];
    const after = await registry.metrics();
    expect(after).not.toContain('partition="0"');
    expect(after).toContain('jl_kafka_consumer_lag{topic="jl.readings",group="jl-workers",partition="3"} 5');
    expect(after).toContain('jl_kafka_partitions_owned{topic="jl.readings",group="jl-workers"} 1');
    expect(after).toContain('jl_kafka_paused{topic="jl.readings",group="jl-workers"} 1');
    expect(after).toContain('jl_kafka_rebalances_total{topic="jl.readings",group="jl-workers"} 4');
    expect(after).toContain('jl_kafka_commits_total{topic="jl.readings",group="jl-workers"} 41');
  });
});
