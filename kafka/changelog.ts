import Kafka from 'node-rdkafka';

/**
 * Reads partitions of a compacted changelog topic (jl.state) from the start to their end as of
 * now, keeping the newest value of each key: the restore step of a warm hand-over, like a
 * Kafka Streams state store restoring from its changelog before it processes a record.
 */
export async function readChangelog(client: Record<string, string | number | boolean>, topic: string, partitions: number[], timeoutMs = 30_000): Promise<Map<string, { value: Buffer; partition: number; timestamp: number }>> {
  const latest = new Map<string, { value: Buffer; partition: number; timestamp: number }>();
  if (!partitions.length) return latest;
  const c = new Kafka.KafkaConsumer({ ...client, 'group.id': `${String(client['client.id'])}-restore`, 'enable.auto.commit': false, 'enable.partition.eof': true }, { 'auto.offset.reset': 'earliest' });
  await new Promise<void>((resolve, reject) => c.connect({ timeout: timeoutMs }, (err) => (err ? reject(new Error(`changelog reader could not connect: ${err.message}`)) : resolve())));
  try {
    const ends = new Map<number, number>();
    const starts: { topic: string; partition: number; offset: number }[] = [];
    for (const partition of partitions) {
      const w = await new Promise<{ lowOffset: number; highOffset: number }>((resolve, reject) => {
        c.queryWatermarkOffsets(topic, partition, 10_000, (err, o) => (err ? reject(new Error(`changelog ${topic}[${partition}]: ${err.message}`)) : resolve(o)));
      });
      if (w.highOffset > w.lowOffset) {
        ends.set(partition, w.highOffset);
        starts.push({ topic, partition, offset: w.lowOffset });
      }
    }
    if (!starts.length) return latest;
    c.assign(starts);
    c.setDefaultConsumeTimeout(100);
    const until = Date.now() + timeoutMs;
    while (ends.size) {
      if (Date.now() > until) throw new Error(`changelog ${topic}: not read to its end within ${timeoutMs} ms`);
      const msgs = await new Promise<Kafka.Message[]>((resolve, reject) => c.consume(5000, (err, m) => (err ? reject(new Error(err.message)) : resolve(m))));
      for (const m of msgs) {
        const end = ends.get(m.partition);
        if (end === undefined || m.offset >= end) continue;
        if (m.key && m.value) latest.set(m.key.toString(), { value: m.value, partition: m.partition, timestamp: m.timestamp ?? Date.now() });
        else if (m.key) latest.delete(m.key.toString()); // a tombstone
        if (m.offset + 1 >= end) ends.delete(m.partition);
      }
    }
    return latest;
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
}
