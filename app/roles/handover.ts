import type { Logger } from 'pino';
import type { Outcome, RawMessage } from '../../core/types.js';
import { readChangelog } from '../../kafka/changelog.js';
import type { KafkaProducer, OutRecord } from '../../kafka/producer.js';
import { rejectionKey } from '../../kafka/records.js';
import type { DetectionEngine } from '../../processors/anomaly/engine.js';

/** A device's detector state as it goes to jl.state: the offset of its last record applied. */
interface StateRecord {
  offset: number;
  snapshot: unknown;
}

/**
 * Warm hand-over of per-device detector state (SPEC 8), like a Kafka Streams changelog: the
 * state of each device changed since the last checkpoint goes to `jl.state` every
 * `everyMs` (and before partitions are given up), keyed by device, into the same partition
 * number as the device's readings, with the offset of the device's last record it covers. A
 * worker that is assigned a partition reads that partition of jl.state to its end and restores
 * its devices before reading a record; records at or below a device's restored offset were
 * already applied to that state by the previous owner, so detection skips them (they are still
 * stored: a point written twice overwrites itself). Devices of partitions it loses are
 * forgotten, so this worker judges no silence for devices another worker now owns.
 */
export class StateHandover {
  private readonly seen = new Map<string, { partition: number; offset: number }>();
  private readonly restored = new Map<string, number>();
  private readonly owned = new Set<number>();
  /** Per partition, the newest event time restored and when (wall time) it was checkpointed. */
  private readonly restoredEvent = new Map<number, { event: number; at: number }>();
  private timer?: NodeJS.Timeout;
  private checkpointing: Promise<void> = Promise.resolve();
  readonly counts = { checkpoints: 0, records: 0, bytes: 0, restoredDevices: 0, skipped: 0, failures: 0, lastCheckpointMs: 0 };

  constructor(
    private readonly detection: DetectionEngine,
    private readonly producer: KafkaProducer,
    private readonly client: Record<string, string | number | boolean>,
    private readonly topic: string,
    private readonly everyMs: number,
    private readonly log: Logger,
  ) {
    detection.trackChanges();
  }

  /** True when detection must skip this outcome: the restored state already holds it. */
  skip(outcome: Outcome, msg: RawMessage): boolean {
    if (!msg.kafka) return false;
    const device = outcome.ok ? outcome.reading.device : rejectionKey(outcome.rejection);
    const upTo = this.restored.get(device);
    if (upTo !== undefined && msg.kafka.offset <= upTo) {
      this.counts.skipped++;
      return true;
    }
    this.seen.set(device, msg.kafka);
    return false;
  }

  start(): void {
    this.timer = setInterval(() => void this.checkpoint(), this.everyMs);
    this.timer.unref();
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.checkpoint();
  }

  /** Writes the state of every device changed since the last checkpoint; resolves once confirmed. */
  checkpoint(): Promise<void> {
    const run = async () => {
      const started = Date.now();
      const records: OutRecord[] = [];
      for (const device of this.detection.takeDirty()) {
        const at = this.seen.get(device);
        const snapshot = this.detection.snapshotDevice(device);
        if (!at || !snapshot) continue;
        const value: StateRecord = { offset: at.offset, snapshot };
        records.push({ topic: this.topic, partition: at.partition, key: device, value: Buffer.from(JSON.stringify(value)) });
      }
      if (!records.length) return;
      try {
        await this.producer.send(records);
        this.counts.checkpoints++;
        this.counts.records += records.length;
        this.counts.bytes += records.reduce((n, r) => n + r.value.length, 0);
        this.counts.lastCheckpointMs = Date.now() - started;
      } catch (e) {
        this.counts.failures++;
        this.log.warn({ err: (e as Error).message, devices: records.length }, 'state checkpoint failed; the next one carries it');
        for (const r of records) this.detection.markDirty?.(r.key);
      }
    };
    this.checkpointing = this.checkpointing.then(run, run);
    return this.checkpointing;
  }

  /** The partition a device's records come from, once one was seen or restored. */
  partitionOf(device: string): number | undefined {
    return this.seen.get(device)?.partition;
  }

  /**
   * The newest event time restored for a partition and the wall time it was checkpointed at
   * (undefined: nothing restored): the partition's watermark goes on from there as if the
   * previous owner had kept it.
   */
  restoredEventTime(partition: number): { event: number; at: number } | undefined {
    return this.restoredEvent.get(partition);
  }

  /** Before partitions are given up: their latest state goes out. */
  readonly revoke = async (): Promise<void> => {
    await this.checkpoint();
  };

  /** New partitions: restore their devices from jl.state; partitions lost: forget their devices. */
  readonly assign = async (partitions: number[]): Promise<void> => {
    const now = new Set(partitions);
    for (const [device, at] of this.seen) {
      if (now.has(at.partition)) continue;
      this.detection.forgetDevice(device);
      this.seen.delete(device);
      this.restored.delete(device);
    }
    const fresh = partitions.filter((p) => !this.owned.has(p));
    for (const p of this.restoredEvent.keys()) if (!now.has(p)) this.restoredEvent.delete(p);
    this.owned.clear();
    for (const p of partitions) this.owned.add(p);
    if (!fresh.length) return;
    const started = Date.now();
    const states = await readChangelog(this.client, this.topic, fresh);
    let n = 0;
    for (const [device, { value, partition, timestamp }] of states) {
      try {
        const s = JSON.parse(value.toString('utf8')) as StateRecord;
        if (typeof s.offset !== 'number' || !this.detection.restoreDevice(device, s.snapshot)) continue;
        this.restored.set(device, s.offset);
        this.seen.set(device, { partition, offset: s.offset });
        const newest = (s.snapshot as { newest?: number }).newest;
        const before = this.restoredEvent.get(partition);
        if (typeof newest === 'number' && (!before || newest > before.event)) this.restoredEvent.set(partition, { event: newest, at: timestamp });
        n++;
      } catch {
        /* a damaged state record: that device starts cold */
      }
    }
    this.counts.restoredDevices += n;
    this.log.info({ partitions: fresh, devices: n, ms: Date.now() - started }, 'detector state restored from the changelog');
  };
}
