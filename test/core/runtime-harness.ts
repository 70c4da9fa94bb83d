/**
 * A harness that drives the delivery runtime with injectable faults: an output, a spool and a
 * dead-letter store whose every step can be made to fail, and envelopes acknowledged in order
 * through the MQTT source's real OrderedAcks. Only our own interfaces are faked; the spool is
 * the real file spool, wrapped so that each of its calls can fail on demand.
 */
import { pino } from 'pino';
import { SpoolFullError, WriteError } from '../../core/errors.js';
import { Ledger } from '../../core/ledger.js';
import type { RuntimeOptions } from '../../core/runtime/options.js';
import { Runtime } from '../../core/runtime/runtime.js';
import type { DeadLetterStore, Output, SpoolChunk, SpoolPosition, SpoolRecord, SpoolStore } from '../../core/stores.js';
import type { Envelope, Outcome, RawMessage, Rejection } from '../../core/types.js';
import { OrderedAcks } from '../../ingest/mqtt/ordered-acks.js';
import { Spool } from '../../storage/spool/spool.js';
import { tempDir } from '../helpers/services.js';

export type OutputFault = 'none' | 'retriable' | 'network' | 'bug' | 'refuse-bad' | 'refuse-bad-named' | 'hang' | 'timeout';

const SOURCE = 'agri/220100/soil';

/** An output that stores lines in a set (idempotent, like InfluxDB points) and fails on demand. */
export class FaultyOutput implements Output {
  readonly name = 'test output';
  fault: OutputFault = 'none';
  /** Fail only this many more writes, then behave (undefined: until the fault is changed). */
  failures?: number;
  readonly stored = new Set<string>();
  writes = 0;
  /** Faults to take in turn, each once the one before has failed its `failures` writes. */
  private steps: { fault: OutputFault; failures?: number }[] = [];

  /** Fails writes as `steps` say, in order, whatever the timing of the runtime's attempts. */
  plan(steps: { fault: OutputFault; failures?: number }[]): void {
    this.steps = steps.slice(1);
    ({ fault: this.fault, failures: this.failures } = steps[0]);
  }

  encode(r: { device: string; seq: number }): string {
    if (r.device.startsWith('poison')) throw new Error(`value of ${r.device} cannot be encoded`);
    return `m,device=${r.device} seq=${r.seq}i`;
  }

  async write(lines: string[]): Promise<void> {
    this.writes++;
    await new Promise((r) => setImmediate(r));
    if (this.failures === 0 && this.steps.length) ({ fault: this.fault, failures: this.failures } = this.steps.shift()!);
    const failing = this.fault !== 'none' && (this.failures === undefined || this.failures-- > 0);
    if (failing) {
      switch (this.fault) {
        case 'hang':
          return new Promise(() => {}); // a server that never answers
        case 'timeout':
          throw new WriteError('InfluxDB unreachable: The operation was aborted due to timeout', true);
        case 'retriable':
          throw new WriteError('InfluxDB write 503: unavailable', true, 503);
        case 'network':
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8086'), { code: 'ECONNREFUSED' });
        case 'bug':
          throw new TypeError('something unexpected');
        case 'refuse-bad':
        case 'refuse-bad-named': {
          const bad = lines.flatMap((l, i) => (l.includes('device=bad') ? [i] : []));
          if (bad.length) {
            // Like InfluxDB 1.x: a partial write stores the good lines and refuses the rest.
            for (const [i, l] of lines.entries()) if (!bad.includes(i)) this.stored.add(l);
            throw new WriteError('InfluxDB write 400: partial write: field type conflict', false, 400, this.fault === 'refuse-bad-named' ? bad : undefined);
          }
        }
      }
    }
    for (const l of lines) this.stored.add(l);
  }
}

type SpoolFault = 'none' | 'enospc' | 'full';

/** The real file spool, each of whose calls can be made to fail. */
export class FaultySpool implements SpoolStore {
  appendFault: SpoolFault = 'none';
  readFault = false;
  commitFault = false;
  /** Reads and commits that failed by `readFault` / `commitFault`. */
  readFailures = 0;
  commitFailures = 0;
  readonly inner: Spool;

  constructor(dir = tempDir('jl-spool-')) {
    this.inner = new Spool(dir, { maxBytes: 1 << 20, segmentBytes: 1 << 16 });
  }

  get size() {
    return this.inner.size;
  }
  get limit() {
    return this.inner.limit;
  }
  isEmpty() {
    return this.inner.isEmpty();
  }
  pending() {
    return this.inner.pending();
  }
  append(record: SpoolRecord): Promise<void> {
    if (this.appendFault === 'enospc') return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    if (this.appendFault === 'full') return Promise.reject(new SpoolFullError(this.inner.size, this.inner.limit));
    return this.inner.append(record);
  }
  read(maxPoints: number): Promise<SpoolChunk | undefined> {
    if (this.readFault) {
      this.readFailures++;
      return Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
    }
    return this.inner.read(maxPoints);
  }
  commit(next: SpoolPosition): Promise<void> {
    if (this.commitFault) {
      this.commitFailures++;
      return Promise.reject(Object.assign(new Error('EACCES: permission denied, open state.json.tmp'), { code: 'EACCES' }));
    }
    return this.inner.commit(next);
  }
  close() {
    return this.inner.close();
  }
}

/** A dead-letter store in memory that fails while `failing` is set. */
export class FaultyDeadLetters implements DeadLetterStore {
  failing = false;
  readonly letters: Rejection[] = [];

  async write(rejections: Rejection[]): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.failing) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    this.letters.push(...rejections);
  }
  async close(): Promise<void> {}
}

/** A message the test flow understands: `{device, seq}` on topic `ok/...` or `reject/...`. */
export const message = (kind: 'ok' | 'reject', device: string, seq: number): RawMessage => ({ topic: `${kind}/${device}`, payload: Buffer.from(JSON.stringify({ device, seq })), receivedAt: Date.now() });

/** The test flow: `reject/...` topics are rejections, the rest readings. */
export function decode(msg: RawMessage): Outcome {
  const { device, seq } = JSON.parse(msg.payload.toString()) as { device: string; seq: number };
  if (msg.topic.startsWith('reject/')) return { ok: false, rejection: { source: SOURCE, reason: 'schema_violation', detail: 'test', topic: msg.topic, payload: msg.payload, receivedAt: msg.receivedAt } };
  return { ok: true, reading: { source: SOURCE, measurement: 'm', tags: { device }, fields: { seq: { type: 'integer', value: seq } }, timeNs: String(seq), eventMs: seq, device, seq, receivedAt: msg.receivedAt } };
}

export const fastOptions: RuntimeOptions = { batchSize: 4, flushMs: 5, maxInFlight: 2, retries: 1, retryMinMs: 2, retryMaxMs: 20, replayBatch: 6, probeMs: 5, probeMaxMs: 50, alarmRatio: 0.8, maxUnackedAgeMs: 200 };

/** A runtime over the faulty parts, with envelopes whose PUBACKs leave in order like MQTT's. */
export class Harness {
  readonly output = new FaultyOutput();
  readonly spool: FaultySpool;
  readonly deadLetters = new FaultyDeadLetters();
  readonly ledger = new Ledger();
  readonly runtime: Runtime;
  /** Message ids whose PUBACK went out, in order. */
  readonly pubacks: number[] = [];
  readonly acks = new OrderedAcks((id) => this.pubacks.push(id));
  /** How often each message id was acked and nacked (each must settle exactly once). */
  readonly settled = new Map<number, { acks: number; nacks: number }>();
  private next = 1;

  constructor(options: Partial<RuntimeOptions> = {}, spool = new FaultySpool()) {
    this.spool = spool;
    this.runtime = new Runtime({ flow: { decode, stages: [] }, output: this.output, spool, deadLetters: this.deadLetters, ledger: this.ledger, log: pino({ level: 'silent' }), options: { ...fastOptions, ...options } });
  }

  /** Hands `msg` to the runtime as the MQTT source would; returns its message id. */
  send(msg: RawMessage): number {
    const id = this.next++;
    const puback = this.acks.track(id);
    const count = { acks: 0, nacks: 0 };
    this.settled.set(id, count);
    const env: Envelope = {
      msg,
      ack: () => {
        count.acks++;
        puback();
      },
      nack: () => {
        count.nacks++;
      },
    };
    this.runtime.handle(env);
    return id;
  }

  /** Sends readings of `devices` (seq 1..), and rejections for `reject:` names. */
  sendAll(devices: string[]): number[] {
    return devices.map((d, i) => (d.startsWith('reject:') ? this.send(message('reject', d.slice(7), i + 1)) : this.send(message('ok', d, i + 1))));
  }

  get unsettled(): number {
    return [...this.settled.values()].filter((c) => c.acks + c.nacks === 0).length;
  }

  /** Every message acked exactly once and never nacked. */
  allAckedOnce(): boolean {
    return [...this.settled.values()].every((c) => c.acks === 1 && c.nacks === 0);
  }
}
