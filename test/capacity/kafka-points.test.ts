import { describe, expect, it } from 'vitest';
import { KafkaPoints, type KafkaConsumerFigures } from '../../capacity/kafka-points.js';
import type { ConsumerStats } from '../../core/consumer.js';

const consumer = (over: Partial<KafkaConsumerFigures> = {}): KafkaConsumerFigures => ({
  topic: 'jl.readings',
  group: 'jl-workers',
  partitions: [0, 3],
  lag: { 0: 5, 3: 7 },
  totalLag: 12,
  rebalances: 2,
  commits: 3,
  commitErrors: 1,
  commitMs: [4, 9, 6],
  paused: false,
  ...over,
});
const field = (line: string, name: string) => {
  const m = new RegExp(`[ ,]${name}=([-0-9.e]+)i?[, ]`).exec(line);
  return m ? Number(m[1]) : undefined;
};

describe('pipeline_kafka points', () => {
  it('one point per consumer with role, instance, topic and group; lag, partitions, paused, counters and the slowest commit', () => {
    const now = 1_700_000_000_000;
    const lines = new KafkaPoints({ role: 'worker', instance: 'worker-2' }).lines([consumer()], now);
    const [total, ...parts] = lines;
    expect(total).toMatch(/^pipeline_kafka,group=jl-workers,instance=worker-2,role=worker,topic=jl\.readings /);
    expect(total.endsWith(` ${now}000000`)).toBe(true);
    expect([field(total, 'lag'), field(total, 'partitions'), field(total, 'paused'), field(total, 'rebalances'), field(total, 'commits'), field(total, 'commit_errors'), field(total, 'commit_ms_max')]).toEqual([12, 2, 0, 2, 3, 1, 9]);
    expect(parts).toEqual([
      `pipeline_kafka_partition,group=jl-workers,instance=worker-2,partition=0,role=worker,topic=jl.readings lag=5i ${now}000000`,
      `pipeline_kafka_partition,group=jl-workers,instance=worker-2,partition=3,role=worker,topic=jl.readings lag=7i ${now}000000`,
    ]);
  });

  it('commit_ms_max covers only the commits of the interval, and is left out when there were none', () => {
    const points = new KafkaPoints({ role: 'gateway', instance: 'gateway-1' });
    points.lines([consumer({ commits: 3, commitMs: [50, 2, 3] })], 1);
    const next = points.lines([consumer({ commits: 5, commitMs: [50, 2, 3, 7, 4], paused: true })], 2)[0];
    expect([field(next, 'commit_ms_max'), field(next, 'paused')]).toEqual([7, 1]);
    const idle = points.lines([consumer({ commits: 5, commitMs: [50, 2, 3, 7, 4] })], 3)[0];
    expect(field(idle, 'commit_ms_max')).toBeUndefined();
    expect(field(idle, 'commits')).toBe(5);
  });

  it('escapes tag values and writes nothing for a member without consumers or partitions', () => {
    const points = new KafkaPoints({ role: 'worker', instance: 'worker a,1' });
    expect(points.lines([], 1)).toEqual([]);
    const lines = points.lines([consumer({ partitions: [], lag: {}, totalLag: 0, commits: 0, commitMs: [] })], 1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('instance=worker\\ a\\,1');
    expect([field(lines[0], 'lag'), field(lines[0], 'partitions')]).toEqual([0, 0]);
  });

  it('takes a KafkaSource ConsumerStats as it is', () => {
    const stats: ConsumerStats = { ...consumer(), unsettled: 0, nacked: 0 };
    expect(new KafkaPoints({ role: 'incidents', instance: 'incidents-1' }).lines([stats], 1)[0]).toMatch(/^pipeline_kafka,.*role=incidents/);
  });
});
