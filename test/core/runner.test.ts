import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { SpoolFullError } from '../../core/errors.js';
import { Ledger } from '../../core/ledger.js';
import { Runner, type ReadingSink } from '../../core/runner.js';
import type { Outcome, RawMessage, Reading, Rejection } from '../../core/types.js';

const reading = (m: RawMessage): Reading => ({ source: 'agri/220100/soil', measurement: 'agri_soil', tags: {}, fields: {}, timeNs: '1', eventMs: 1, device: m.topic, seq: 1, receivedAt: m.receivedAt });
const process = (m: RawMessage): Outcome =>
  m.topic.startsWith('bad')
    ? { ok: false, rejection: { source: 'agri/220100/soil', reason: 'schema_violation', detail: 'x', topic: m.topic, payload: m.payload, receivedAt: 0 } }
    : { ok: true, reading: reading(m) };
const envelope = (topic: string, acked: string[]) => ({ msg: { topic, payload: Buffer.from('{}'), receivedAt: 0 }, ack: () => acked.push(topic) });
const opts = { batchSize: 3, flushMs: 5, maxInFlight: 2, fullRetryMs: 5 };

// Pure logic of the runner: acks only after the outcome is durable, refused points become
// dead letters, a full spool holds acks back until the batch is taken.
describe('runner', () => {
  it('acks each message only once its batch is durable, and balances the ledger', async () => {
    const acked: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sink: ReadingSink = { write: async () => (await gate, []) };
    const letters: Rejection[] = [];
    const ledger = new Ledger();
    const runner = new Runner(process, sink, { write: async (b) => void letters.push(...b) }, ledger, pino({ level: 'silent' }), opts);
    for (const t of ['a', 'b', 'bad1', 'c', 'd']) runner.handle(envelope(t, acked));
    await new Promise((r) => setTimeout(r, 30));
    expect(acked).toEqual(['bad1']); // the dead letter is durable; the readings wait for the sink
    release();
    await runner.drain();
    expect(acked.sort()).toEqual(['a', 'b', 'bad1', 'c', 'd']);
    expect(letters.map((l) => l.topic)).toEqual(['bad1']);
    expect(ledger.totals()).toEqual({ received: 5, stored: 0, deadLettered: 1, inSpool: 0 }); // stored is counted by the sink
    expect(runner.pendingMessages).toBe(0);
  });

  it('dead-letters points the sink refused as written, with reason storage_rejected', async () => {
    const acked: string[] = [];
    const sink: ReadingSink = { write: async (batch) => batch.filter((r) => r.device === 'x').map((r) => ({ reading: r, detail: 'field type conflict' })) };
    const letters: Rejection[] = [];
    const ledger = new Ledger();
    const runner = new Runner(process, sink, { write: async (b) => void letters.push(...b) }, ledger, pino({ level: 'silent' }), opts);
    for (const t of ['w', 'x', 'y']) runner.handle(envelope(t, acked));
    await runner.drain();
    expect(letters).toMatchObject([{ topic: 'x', reason: 'storage_rejected', detail: 'field type conflict' }]);
    expect(ledger.snapshot().reasons).toEqual({ storage_rejected: 1 });
    expect(acked.sort()).toEqual(['w', 'x', 'y']);
  });

  it('holds acks back while the spool is full and offers the batch again', async () => {
    const acked: string[] = [];
    let attempts = 0;
    const sink: ReadingSink = {
      write: async () => {
        if (++attempts < 4) throw new SpoolFullError(100, 100);
        return [];
      },
    };
    const runner = new Runner(process, sink, { write: async () => {} }, new Ledger(), pino({ level: 'silent' }), opts);
    runner.handle(envelope('a', acked));
    await new Promise((r) => setTimeout(r, 12));
    expect(acked).toEqual([]);
    await runner.drain();
    expect(attempts).toBe(4);
    expect(acked).toEqual(['a']);
  });
});
