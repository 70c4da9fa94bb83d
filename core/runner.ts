import type { Logger } from 'pino';
import { SpoolFullError } from './errors.js';
import type { Ledger } from './ledger.js';
import type { Envelope, Outcome, RawMessage, Reading, Rejection } from './types.js';
import { sleep } from './backoff.js';

/** Where readings go. Resolves when each is durable, returning those refused as written. */
export interface ReadingSink {
  write(batch: Reading[]): Promise<{ reading: Reading; detail: string }[]>;
}
/** Where rejections go. Resolves when they are durable. */
export interface RejectionSink {
  write(batch: Rejection[]): Promise<void>;
}

export interface RunnerOptions {
  batchSize: number;
  flushMs: number;
  maxInFlight: number;
  /** How long to wait before offering a batch again when the spool is full. */
  fullRetryMs: number;
}

interface Pending<T> {
  items: T[];
  envelopes: Envelope[];
}

/**
 * The runner owns batching, in-flight limits, acknowledgement and the ledger. `handle` is called
 * for each message as it arrives (synchronously, never overlapping); the message's `ack` is
 * called once its reading is stored (InfluxDB or spool) or its rejection dead-lettered.
 * A batch that cannot be taken at all (spool full) is offered again and its messages stay
 * unacknowledged, so the broker keeps them and stops sending once its window is full.
 */
export class Runner {
  private readings: Pending<Reading> = { items: [], envelopes: [] };
  private rejections: Pending<Rejection> = { items: [], envelopes: [] };
  private timer?: NodeJS.Timeout;
  /**
   * Writes run in two lanes, each with its own in-flight limit, so that dead letters are never
   * stuck behind a slow InfluxDB (and the other way round).
   */
  private readonly lanes = {
    readings: { inFlight: 0, queue: [] as (() => Promise<void>)[], limit: 1 },
    rejections: { inFlight: 0, queue: [] as (() => Promise<void>)[], limit: 1 },
  };
  private idleWaiters: (() => void)[] = [];
  private paused = false;
  /** Messages received but not yet stored, spooled or dead-lettered. */
  pendingMessages = 0;
  /** Called after readings are durable (latency measurement, later stages). */
  onStored?: (readings: Reading[], at: number) => void;

  constructor(
    private readonly process: (msg: RawMessage) => Outcome,
    private readonly sink: ReadingSink,
    private readonly deadLetters: RejectionSink,
    private readonly ledger: Ledger,
    private readonly log: Logger,
    private readonly opts: RunnerOptions,
  ) {
    this.lanes.readings.limit = opts.maxInFlight;
  }

  handle(env: Envelope): void {
    this.pendingMessages++;
    let outcome: Outcome;
    try {
      outcome = this.process(env.msg);
    } catch (e) {
      // ingest() never throws by contract; if it does, the message still is not lost.
      outcome = { ok: false, rejection: { source: '_invalid/_/_', reason: 'schema_violation', detail: `internal: ${(e as Error).message}`, topic: env.msg.topic, payload: env.msg.payload, receivedAt: env.msg.receivedAt } };
    }
    if (outcome.ok) {
      this.ledger.received(outcome.reading.source);
      this.readings.items.push(outcome.reading);
      this.readings.envelopes.push(env);
      if (this.readings.items.length >= this.opts.batchSize) this.flushReadings();
    } else {
      this.ledger.received(outcome.rejection.source);
      this.rejections.items.push(outcome.rejection);
      this.rejections.envelopes.push(env);
      if (this.rejections.items.length >= this.opts.batchSize) this.flushRejections();
    }
    if (!this.timer) this.timer = setTimeout(() => this.flush(), this.opts.flushMs);
  }

  /** Sends whatever is pending now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.readings.items.length) this.flushReadings();
    if (this.rejections.items.length) this.flushRejections();
  }

  private flushReadings(): void {
    const { items, envelopes } = this.readings;
    this.readings = { items: [], envelopes: [] };
    this.schedule('readings', async () => {
      for (;;) {
        try {
          const refused = await this.sink.write(items);
          if (refused.length) {
            const letters: Rejection[] = refused.map(({ reading, detail }) => {
              const m = envelopes[items.indexOf(reading)].msg;
              return { source: reading.source, reason: 'storage_rejected', detail, topic: m.topic, payload: m.payload, receivedAt: m.receivedAt };
            });
            await this.deadLetters.write(letters);
            for (const l of letters) this.ledger.deadLettered(l.source, l.reason);
          }
          const now = Date.now();
          this.pendingMessages -= envelopes.length;
          for (const e of envelopes) e.ack();
          this.onStored?.(items, now);
          return;
        } catch (e) {
          if (!(e instanceof SpoolFullError)) throw e;
          this.log.error({ err: e.message }, 'spool full: holding %d messages unacknowledged', items.length);
          await sleep(this.opts.fullRetryMs);
        }
      }
    });
  }

  private flushRejections(): void {
    const { items, envelopes } = this.rejections;
    this.rejections = { items: [], envelopes: [] };
    this.schedule('rejections', async () => {
      await this.deadLetters.write(items);
      for (const r of items) this.ledger.deadLettered(r.source, r.reason);
      this.pendingMessages -= envelopes.length;
      for (const e of envelopes) e.ack();
    });
  }

  private schedule(lane: keyof Runner['lanes'], job: () => Promise<void>): void {
    this.lanes[lane].queue.push(job);
    this.pump(this.lanes[lane]);
  }

  private pump(lane: Runner['lanes']['readings']): void {
    while (lane.inFlight < lane.limit && lane.queue.length) {
      const job = lane.queue.shift()!;
      lane.inFlight++;
      job()
        .catch((e: Error) => this.log.error({ err: e.message, stack: e.stack }, 'batch failed; its messages stay unacknowledged and will be redelivered'))
        .finally(() => {
          lane.inFlight--;
          this.pump(lane);
          if (this.idle()) for (const w of this.idleWaiters.splice(0)) w();
        });
    }
  }

  private idle(): boolean {
    return Object.values(this.lanes).every((l) => l.inFlight === 0 && l.queue.length === 0);
  }

  /** Flushes and waits until every batch so far is settled. */
  async drain(): Promise<void> {
    this.flush();
    if (this.idle()) return;
    await new Promise<void>((r) => this.idleWaiters.push(r));
  }
}
