import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { backoffDelay } from '../backoff.js';
import { StoppedError, WriteError, isRetriable, isTimeout } from '../errors.js';
import type { Ledger } from '../ledger.js';
import type { DeadLetterStore, Output, SpoolStore } from '../stores.js';
import type { Envelope, Outcome, RawMessage, Reading, Rejection } from '../types.js';
import { HealthTracker, message, type StoreHealth } from './health.js';
import { Lane } from './lane.js';
import { spooledRejections, storageRejection } from './letters.js';
import type { RuntimeOptions } from './options.js';
import { SpoolReplayer } from './replay.js';
import { spoolRecord } from './spool-record.js';
import { Stopper } from './stopper.js';

/**
 * A stage of the flow after the first: sees every message's outcome, in arrival order, one at a
 * time (detection, statistics). It must not throw; if it does, the error is logged and counted
 * and the message goes on, so a stage's bug never loses data.
 */
export interface Stage {
  readonly name: string;
  observe(outcome: Outcome, msg: RawMessage): void;
}

/** What happens to a message: the first stage decides its outcome, the others observe it. */
export interface Flow {
  /** Validates and tags a raw message. Pure; never throws by contract (a throw becomes a rejection). */
  decode(msg: RawMessage): Outcome;
  stages: Stage[];
  /**
   * Pseudonymises the personal fields of a payload that becomes a dead letter after decoding
   * (the output refused its reading): the decoder's own rejections are redacted already.
   */
  redact?: (payload: Buffer) => Buffer;
}

export interface RuntimeDeps {
  flow: Flow;
  output: Output;
  spool: SpoolStore;
  deadLetters: DeadLetterStore;
  ledger: Ledger;
  log: Logger;
  options: RuntimeOptions;
}

/** Typed events, for measurements and the pipeline's own statistics. */
export interface RuntimeEvents {
  /** Readings whose points are durable (in the output or the spool), and when. */
  stored: [readings: Reading[], at: number];
  /** One attempt at a direct write to the output: how many points, how long, whether it went through. */
  write: [attempt: { points: number; ms: number; ok: boolean }];
  /** True once `maxPending` messages are held (the source should stop reading), false once half have settled. */
  pressure: [on: boolean];
}

/** The runtime's view of itself, for `/readyz`, `/metrics` and `/stats`. */
export interface RuntimeHealth extends StoreHealth {
  /** Messages received whose outcome is not durable yet (none of ack or nack called). */
  pending: number;
  /** Age of the oldest such message, ms (0 when none). */
  oldestUnackedAgeMs: number;
}

interface Entry<T> {
  item: T;
  env: Envelope;
}
type Refused = Entry<Reading> & { detail: string };

/**
 * The delivery runtime: the one place that owns what happens to a message after its source
 * hands it over (the Telegraf model). `handle` is called for each envelope as it arrives
 * (synchronously, never overlapping); the runtime runs the flow, batches readings and
 * rejections by size and time, writes readings through the output with retries and backoff,
 * spools them while the output is unavailable and replays the spool in order, dead-letters
 * rejections and refused readings, counts every outcome in the ledger, and settles every
 * envelope exactly once: `ack` when its outcome is durable, `nack` only when it stops first.
 *
 * Failures end in a defined state, never a stall: a retriable output error is retried, then
 * spooled; a record the output refuses (or cannot encode) is isolated and dead-lettered alone;
 * a spool or dead-letter store that cannot be written is retried with backoff while the messages
 * stay unacknowledged (the broker holds the rest), and reported by `health()`; an unexpected
 * error nacks the batch, so the source redelivers it.
 */
export class Runtime extends EventEmitter<RuntimeEvents> {
  private readonly flow: Flow;
  private readonly output: Output;
  private readonly spool: SpoolStore;
  private readonly deadLetters: DeadLetterStore;
  private readonly ledger: Ledger;
  private readonly log: Logger;
  private readonly opts: RuntimeOptions;
  private readonly tracker: HealthTracker;
  private readonly stopper = new Stopper();
  private readonly replayer: SpoolReplayer;
  /** Unsettled envelopes, when each arrived and its source; insertion order, so the first is the oldest. */
  private readonly unsettled = new Map<Envelope, { at: number; source: string }>();
  private readings: Entry<Reading>[] = [];
  private rejections: Entry<Rejection>[] = [];
  private timer?: NodeJS.Timeout;
  private probeTimer?: NodeJS.Timeout;
  /** Readings and rejections in separate lanes, so dead letters never wait behind a slow output. */
  private readonly readingLane: Lane;
  private readonly rejectionLane: Lane;
  private stopping = false;
  private pressed = false;

  constructor(deps: RuntimeDeps) {
    super();
    ({ flow: this.flow, output: this.output, spool: this.spool, deadLetters: this.deadLetters, ledger: this.ledger, log: this.log, options: this.opts } = deps);
    this.tracker = new HealthTracker(this.log);
    const onError = (e: unknown) => this.log.error({ err: message(e) }, 'delivery job failed unexpectedly');
    this.readingLane = new Lane(this.opts.maxInFlight, onError);
    this.rejectionLane = new Lane(1, onError);
    this.replayer = new SpoolReplayer(this.spool, this.output, (rec, refused) => this.deadLetter(spooledRejections(rec, refused, Date.now())), this.ledger, this.tracker, this.log, this.opts, this.stopper);
    // Points spooled by an earlier run count as received then and in the spool now.
    for (const [s, n] of Object.entries(this.spool.pending())) {
      this.ledger.received(s, n);
      this.ledger.spooled(s, n);
    }
    if (!this.spool.isEmpty()) this.log.warn({ points: this.ledger.totals().inSpool, bytes: this.spool.size }, 'spool holds data from a previous run: replaying');
    this.checkSpoolFill();
    this.replayer.kick();
  }

  /** Takes one message from the source. Never throws; the envelope is settled later, exactly once. */
  handle(env: Envelope): void {
    if (this.stopping) {
      env.nack(new StoppedError());
      return;
    }
    const at = Date.now();
    const outcome = this.decode(env.msg);
    this.unsettled.set(env, { at, source: outcome.ok ? outcome.reading.source : outcome.rejection.source });
    if (!this.pressed && this.opts.maxPending !== undefined && this.unsettled.size >= this.opts.maxPending) {
      this.pressed = true;
      this.emit('pressure', true);
    }
    for (const stage of this.flow.stages) {
      try {
        stage.observe(outcome, env.msg);
      } catch (e) {
        if (this.tracker.state.stageErrors++ < 10) this.log.error({ stage: stage.name, err: message(e) }, 'stage failed; the message goes on');
      }
    }
    if (outcome.ok) {
      this.ledger.received(outcome.reading.source);
      this.readings.push({ item: outcome.reading, env });
      if (this.readings.length >= this.opts.batchSize) this.flushReadings();
    } else {
      this.ledger.received(outcome.rejection.source);
      if (env.msg.dup) outcome.rejection.dup = true;
      this.rejections.push({ item: outcome.rejection, env });
      if (this.rejections.length >= this.opts.batchSize) this.flushRejections();
    }
    this.timer ??= setTimeout(() => this.flush(), this.opts.flushMs);
  }

  private decode(msg: RawMessage): Outcome {
    try {
      return this.flow.decode(msg);
    } catch (e) {
      // The first stage never throws by contract; if it does, the message still is not lost.
      return { ok: false, rejection: { source: '_invalid/_/_', reason: 'schema_violation', detail: `internal: ${message(e)}`, topic: msg.topic, payload: msg.payload, receivedAt: msg.receivedAt } };
    }
  }

  /** Sends whatever is batched now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.readings.length) this.flushReadings();
    if (this.rejections.length) this.flushRejections();
  }

  private flushReadings(): void {
    const batch = this.readings;
    this.readings = [];
    this.readingLane.push(() => this.guard(batch, () => this.storeReadings(batch)));
  }

  private flushRejections(): void {
    const batch = this.rejections;
    this.rejections = [];
    this.rejectionLane.push(() => this.guard(batch, () => this.deadLetterEntries(batch)));
  }

  /**
   * Runs a batch's job; whatever it leaves unsettled (it was stopped, or failed unexpectedly) is
   * nacked, so the source delivers it again and no envelope ends in neither state.
   */
  private nack(env: Envelope, err: Error): void {
    const u = this.unsettled.get(env);
    if (!u) return;
    this.unsettled.delete(env);
    this.ledger.nacked(u.source);
    env.nack(err);
    this.eased();
  }

  private async guard(batch: Entry<unknown>[], job: () => Promise<void>): Promise<void> {
    try {
      await job();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (!(e instanceof StoppedError)) this.log.error({ err: err.message, stack: err.stack }, 'batch failed unexpectedly; its messages are handed back to the source');
      for (const { env } of batch) this.nack(env, err);
    }
  }

  /** Encodes, makes durable (output or spool), dead-letters what is refused. */
  private async storeReadings(batch: Entry<Reading>[]): Promise<void> {
    const encoded: (Entry<Reading> & { line: string })[] = [];
    const refused: Refused[] = [];
    for (const e of batch) {
      try {
        encoded.push({ ...e, line: this.output.encode(e.item) });
      } catch (err) {
        refused.push({ ...e, detail: `cannot be written to ${this.output.name}: ${message(err)}` });
      }
    }
    if (encoded.length) refused.push(...(await this.writeOrSpool(encoded)));
    if (refused.length) await this.deadLetterEntries(refused.map((r) => ({ env: r.env, item: storageRejection(r.item, r.env.msg, r.detail, this.flow.redact) })));
  }

  /**
   * Makes `entries` durable: written to the output (after retries), else appended to the spool;
   * both are tried again with backoff until one works or the runtime stops. Returns the entries
   * the output refused as written, isolated from the rest. While the spool holds data, new
   * batches go behind it so it is replayed before newer data lands.
   */
  private async writeOrSpool(entries: (Entry<Reading> & { line: string })[]): Promise<Refused[]> {
    let spoolFailed = false;
    for (let attempt = 0; ; attempt++) {
      this.stopper.check();
      if (this.spool.isEmpty() || spoolFailed) {
        try {
          await this.timedWrite(entries.map((e) => e.line));
          this.tracker.outputOk();
          this.settleReadings(entries, 'stored');
          return [];
        } catch (e) {
          if (!isRetriable(e)) return this.isolate(entries, e);
          this.tracker.outputFailed(e);
          this.tracker.state.retries++;
          // A write that timed out goes to the spool at once: another attempt would hold it as long again.
          if (attempt < this.opts.retries && !isTimeout(e)) {
            await this.stopper.sleep(backoffDelay(attempt, this.opts.retryMinMs, this.opts.retryMaxMs));
            continue;
          }
        }
      }
      try {
        await this.spool.append(spoolRecord(entries));
        this.tracker.spoolOk();
        this.settleReadings(entries, 'spooled');
        this.checkSpoolFill();
        this.replayer.kick();
        return [];
      } catch (e) {
        spoolFailed = true;
        this.tracker.spoolFailed(e);
        this.tracker.state.retries++;
        this.scheduleSpoolProbe();
        await this.stopper.sleep(backoffDelay(Math.min(attempt, 10), this.opts.retryMinMs, this.opts.retryMaxMs));
      }
    }
  }

  /**
   * The output refused a batch as written (4xx, or a value it cannot take): the lines it named
   * are refused and the rest written again; when it named none, the batch is halved until each
   * refused line stands alone.
   */
  private async isolate(entries: (Entry<Reading> & { line: string })[], err: unknown): Promise<Refused[]> {
    const detail = message(err);
    const named = err instanceof WriteError && err.refused?.length ? new Set(err.refused) : undefined;
    if (named) {
      const rest = entries.filter((_, i) => !named.has(i));
      const refused = entries.filter((_, i) => named.has(i)).map((e) => ({ ...e, detail }));
      return [...refused, ...(rest.length ? await this.writeOrSpool(rest) : [])];
    }
    if (entries.length === 1) return [{ ...entries[0], detail }];
    const mid = entries.length >> 1;
    return [...(await this.writeOrSpool(entries.slice(0, mid))), ...(await this.writeOrSpool(entries.slice(mid)))];
  }

  private async timedWrite(lines: string[]): Promise<void> {
    const t = performance.now();
    let ok = false;
    try {
      await this.output.write(lines);
      ok = true;
    } finally {
      this.emit('write', { points: lines.length, ms: performance.now() - t, ok });
    }
  }

  /** Makes dead letters durable, retrying with backoff until the store takes them; then acks. */
  private async deadLetterEntries(entries: Entry<Rejection>[]): Promise<void> {
    await this.deadLetter(entries.map((e) => e.item));
    for (const { item, env } of entries) {
      if (!this.unsettled.delete(env)) continue;
      this.ledger.deadLettered(item.source, item.reason);
      env.ack();
    }
    this.eased();
  }

  private async deadLetter(letters: Rejection[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      this.stopper.check();
      try {
        await this.deadLetters.write(letters);
        this.tracker.deadLetterOk();
        return;
      } catch (e) {
        this.tracker.deadLetterFailed(e);
        this.tracker.state.retries++;
        await this.stopper.sleep(backoffDelay(Math.min(attempt, 10), this.opts.retryMinMs, this.opts.retryMaxMs));
      }
    }
  }

  /** Counts durable readings and acks their envelopes, in one step. */
  private settleReadings(entries: Entry<Reading>[], where: 'stored' | 'spooled'): void {
    const readings: Reading[] = [];
    for (const { item, env } of entries) {
      if (!this.unsettled.delete(env)) continue;
      if (where === 'stored') this.ledger.stored(item.source);
      else this.ledger.spooled(item.source, 1);
      env.ack();
      readings.push(item);
    }
    if (readings.length) this.emit('stored', readings, Date.now());
    this.eased();
  }

  /** Ends the pressure once half of `maxPending` has settled. */
  private eased(): void {
    if (this.pressed && this.unsettled.size <= this.opts.maxPending! / 2) {
      this.pressed = false;
      this.emit('pressure', false);
    }
  }

  private checkSpoolFill(): void {
    this.tracker.spoolFill(this.spool.size / this.spool.limit, this.opts.alarmRatio, this.spool.size, this.spool.limit);
  }

  /**
   * After a failed append, look again now and then: once the spool's disk takes writes, it
   * counts as writable even if no batch needed it since (the output came back first).
   */
  private scheduleSpoolProbe(): void {
    if (this.probeTimer || !this.spool.probe) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.tracker.state.spoolWritable || this.stopping) return;
      this.spool.probe!().then(
        () => this.tracker.spoolOk(),
        () => this.scheduleSpoolProbe(),
      );
    }, Math.max(this.opts.probeMs, 100));
    this.probeTimer.unref();
  }

  health(now = Date.now()): RuntimeHealth {
    const oldest = this.unsettled.values().next();
    return { ...this.tracker.state, pending: this.unsettled.size, oldestUnackedAgeMs: oldest.done ? 0 : now - oldest.value.at };
  }

  /** Readiness checks of delivery: each must hold for the pipeline to be ready. */
  checks(now = Date.now()): Record<'unackedWithinBound' | 'spoolWritable' | 'spoolReplaying' | 'deadLetterWritable' | 'canStore', boolean> {
    const h = this.health(now);
    return {
      unackedWithinBound: h.oldestUnackedAgeMs <= this.opts.maxUnackedAgeMs,
      spoolWritable: h.spoolWritable,
      spoolReplaying: !h.replayFailing,
      deadLetterWritable: h.deadLetterWritable,
      // Data can go somewhere: the output takes it, or the spool has room.
      canStore: h.outputUp || !(h.spoolFull || h.spoolAlarm),
    };
  }

  /** Flushes and waits until every batch so far has been worked through (not necessarily settled). */
  async drain(): Promise<void> {
    this.flush();
    while (this.readingLane.busy || this.rejectionLane.busy) await Promise.all([this.readingLane.idle(), this.rejectionLane.idle()]);
  }

  /**
   * Stops: flushes, gives pending batches up to `graceMs` to become durable, then cuts every
   * retry short and nacks what is still unsettled (the source delivers it again), and ends the
   * replay. A write already on the wire is not waited for beyond a second: its batch is nacked
   * too (settling later is a no-op), so stopping takes `graceMs` plus about a second at most.
   * Messages handed over afterwards are nacked at once.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.flush();
    await within(this.drain(), graceMs);
    this.stopping = true;
    this.stopper.stop();
    clearTimeout(this.probeTimer);
    await within(this.drain(), 1000);
    // Every batch settles or nacks its own; this catches what is still on the wire.
    for (const env of [...this.unsettled.keys()]) this.nack(env, new StoppedError());
    await within(this.replayer.done(), 1000);
  }
}

/** Waits for `p`, at most `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
