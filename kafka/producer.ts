import Kafka from 'node-rdkafka';
import type { LibrdKafkaError, MessageHeader, Producer } from 'node-rdkafka';
import { WriteError } from '../core/errors.js';

/** One record to produce. `partition` undefined: chosen by the key (the client's partitioner). */
export interface OutRecord {
  topic: string;
  key: string;
  value: Buffer;
  partition?: number;
  headers?: MessageHeader[];
}

interface Batch {
  remaining: number;
  err?: LibrdKafkaError;
  done: (err?: LibrdKafkaError) => void;
}

const QUEUE_FULL = -184;

/**
 * An idempotent producer (`enable.idempotence`, so `acks=all` and no duplicates or reordering
 * from retries) whose `send` resolves only when every record's delivery report says the
 * brokers have it: the acknowledgement a gateway waits for before it acks MQTT or commits.
 */
export class KafkaProducer {
  /** Delivery reports seen, and how long each `send` took (ms), for /metrics. */
  readonly counts = { delivered: 0, failed: 0 };

  private constructor(
    private readonly p: Producer,
    /** Topics the cluster had when this producer connected, with their partition counts. */
    readonly topics: Map<string, number>,
  ) {
    p.on('delivery-report', (err, report) => {
      const batch = report.opaque as Batch | undefined;
      if (err) this.counts.failed++;
      else this.counts.delivered++;
      if (!batch) return;
      if (err) batch.err ??= err;
      if (--batch.remaining === 0) batch.done(batch.err);
    });
  }

  static connect(config: Record<string, string | number | boolean>, timeoutMs = 30_000): Promise<KafkaProducer> {
    const p = new Kafka.Producer({
      'enable.idempotence': true,
      dr_cb: true,
      'linger.ms': 5,
      'compression.type': 'lz4',
      'queue.buffering.max.messages': 200_000,
      ...config,
    }, { 'request.required.acks': -1, 'message.timeout.ms': 30_000, partitioner: 'murmur2_random' });
    return new Promise((resolve, reject) => {
      p.connect({ timeout: timeoutMs, allTopics: true }, (err, metadata) => {
        if (err) return reject(new Error(`Kafka producer could not connect: ${err.message}`));
        p.setPollInterval(5);
        resolve(new KafkaProducer(p, new Map(metadata.topics.map((t) => [t.name, t.partitions.length]))));
      });
    });
  }

  /**
   * Produces the records and resolves once the brokers confirmed all of them; rejects with a
   * retriable WriteError naming the first failure otherwise (some may still have landed: the
   * consumers downstream take a redelivered record as the same record).
   */
  send(records: OutRecord[]): Promise<void> {
    if (!records.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const batch: Batch = {
        remaining: records.length,
        done: (err) => (err ? reject(new WriteError(`Kafka: ${err.message}`, true)) : resolve()),
      };
      let i = 0;
      const pump = () => {
        for (; i < records.length; i++) {
          const r = records[i];
          try {
            this.p.produce(r.topic, r.partition ?? null, r.value, r.key, Date.now(), batch, r.headers);
          } catch (e) {
            if ((e as LibrdKafkaError).code === QUEUE_FULL) {
              setTimeout(pump, 5); // the client's queue drains as the brokers confirm
              return;
            }
            // Records never handed to the client count as failed now.
            batch.err ??= e as LibrdKafkaError;
            batch.remaining -= records.length - i;
            if (batch.remaining === 0) batch.done(batch.err);
            return;
          }
        }
      };
      pump();
    });
  }

  /** Waits until everything produced so far is confirmed (or `timeoutMs` passes). */
  flush(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => this.p.flush(timeoutMs, (err) => (err ? reject(new Error(err.message)) : resolve())));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.p.flush(5000, () => this.p.disconnect(() => resolve()));
    });
  }
}
