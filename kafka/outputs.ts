import type { DeadLetterStore, Output } from '../core/stores.js';
import type { Reading, Rejection } from '../core/types.js';
import type { KafkaProducer, OutRecord } from './producer.js';
import { KIND_HEADER, rejectionKey, rejectionNotice } from './records.js';

/**
 * The gateway's output: readings to `jl.readings`, keyed by device so one device's readings
 * stay in one partition (one worker, in order). A line is `device<TAB>reading JSON` (device ids
 * hold no whitespace), so the spool keeps it as it keeps InfluxDB lines and replays it the same
 * way. `write` resolves on the brokers' delivery reports: only then does the runtime ack MQTT.
 */
export class KafkaReadingsOutput implements Output {
  readonly name = 'kafka';

  constructor(
    private readonly producer: KafkaProducer,
    private readonly topic: string,
  ) {}

  encode(r: Reading): string {
    return `${r.device}\t${JSON.stringify(r)}`;
  }

  write(lines: string[]): Promise<void> {
    return this.producer.send(
      lines.map((l) => {
        const tab = l.indexOf('\t');
        return { topic: this.topic, key: l.slice(0, tab), value: Buffer.from(l.slice(tab + 1)) };
      }),
    );
  }
}

/**
 * Dead letters on disk (the durable record) and on `jl.dlq` (keyed by reason, header `reason`),
 * both before `write` resolves, so an acked message's letter is in both places. With
 * `notices`, each rejection also goes beside the readings of its claimed device, for the
 * detectors of the worker that owns it. A failed produce rejects the write: the runtime
 * retries it (the disk may then hold the letter twice; it is never lost).
 */
export class KafkaDeadLetters implements DeadLetterStore {
  constructor(
    private readonly disk: DeadLetterStore,
    private readonly producer: KafkaProducer,
    private readonly topics: { dlq: string; readings?: string },
    private readonly letter: (r: Rejection) => object,
  ) {}

  async write(rejections: Rejection[]): Promise<void> {
    await this.disk.write(rejections);
    const records: OutRecord[] = rejections.map((r) => ({ topic: this.topics.dlq, key: r.reason, value: Buffer.from(JSON.stringify(this.letter(r))), headers: [{ reason: r.reason }] }));
    if (this.topics.readings) {
      for (const r of rejections) records.push({ topic: this.topics.readings, key: rejectionKey(r), value: rejectionNotice(r), headers: [{ [KIND_HEADER]: 'rejection' }] });
    }
    await this.producer.send(records);
  }

  close(): Promise<void> {
    return this.disk.close();
  }
}
