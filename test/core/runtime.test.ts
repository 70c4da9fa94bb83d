import { closeSync, openSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toDeadLetter } from '../../deadletter/record.js';
import { waitUntil } from '../../services/process.js';
import { FaultySpool, Harness, message } from './runtime-harness.js';

// The failure-injection suite of the delivery runtime: outputs that throw retriable,
// non-retriable, 4xx-with-refused-lines, network and unexpected errors; a poison record among
// good ones; a spool whose append, read and commit fail; a dead-letter store that fails. In every
// case: no stall (once the fault clears every message ends stored or dead-lettered and acked
// exactly once, PUBACKs in arrival order), no crash, no unhandled rejection, an exact ledger.

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled, 'unhandled rejections').toEqual([]);
});

const GOOD = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until every message is settled, then checks the invariants every case must meet. */
async function settles(h: Harness, expected: { stored: number; deadLettered: number }) {
  await waitUntil(() => h.unsettled === 0 && h.ledger.totals().inSpool === 0 && h.spool.isEmpty(), 20_000, 'every message settled and the spool replayed', 5);
  await h.runtime.drain();
  expect(h.allAckedOnce(), JSON.stringify([...h.settled])).toBe(true);
  expect(h.pubacks).toEqual([...h.settled.keys()]); // in arrival order, each once
  expect(h.ledger.totals()).toEqual({ received: h.settled.size, stored: expected.stored, deadLettered: expected.deadLettered, inSpool: 0, nacked: 0 });
  expect(h.runtime.health().pending).toBe(0);
  expect(h.runtime.checks()).toEqual({ unackedWithinBound: true, spoolWritable: true, spoolReplaying: true, deadLetterWritable: true, canStore: true });
}

describe('delivery runtime under injected faults', () => {
  it('stores everything and dead-letters a poison record alone when nothing fails', async () => {
    const h = new Harness();
    h.sendAll([...GOOD.slice(0, 4), 'poison1', ...GOOD.slice(4), 'reject:r1']);
    await settles(h, { stored: 8, deadLettered: 2 });
    expect(h.output.stored.size).toBe(8);
    expect(h.deadLetters.letters.map((l) => [l.reason, l.topic])).toEqual(expect.arrayContaining([['storage_rejected', 'ok/poison1'], ['schema_violation', 'reject/r1']]));
    expect(h.deadLetters.letters.find((l) => l.topic === 'ok/poison1')!.detail).toMatch(/cannot be written to test output: value of poison1 cannot be encoded/);
  });

  for (const fault of ['retriable', 'network'] as const) {
    it(`a ${fault} output error: batches go to the spool, are acked, and are replayed once it clears`, async () => {
      const h = new Harness();
      h.output.fault = fault;
      h.sendAll([...GOOD, 'poison2']);
      await waitUntil(() => h.ledger.totals().inSpool === 8, 5000, 'spooled', 5);
      expect(h.unsettled).toBe(0); // spooled is durable: acked
      expect(h.runtime.health().outputUp).toBe(false);
      expect(h.output.stored.size).toBe(0);
      h.output.fault = 'none';
      await settles(h, { stored: 8, deadLettered: 1 });
      expect(h.output.stored.size).toBe(8);
    });
  }

  it('a write that timed out is spooled at once, not retried for another whole timeout', async () => {
    const h = new Harness({ retries: 3, retryMinMs: 2000, retryMaxMs: 2000 });
    h.output.fault = 'timeout';
    h.sendAll(GOOD.slice(0, 4));
    // A retry would wait at least 2 s first: spooled sooner means none was made.
    await waitUntil(() => h.ledger.totals().inSpool === 4, 1500, 'spooled without the retries', 5);
    h.output.fault = 'none';
    await settles(h, { stored: 4, deadLettered: 0 });
  });

  it('an unexpected error thrown by the output (defect 1: used to stall every later PUBACK) isolates and stores', async () => {
    const h = new Harness();
    h.output.fault = 'bug';
    h.output.failures = 1; // the first batch throws once
    h.sendAll(GOOD.slice(0, 5));
    await settles(h, { stored: 5, deadLettered: 0 });
  });

  it('an output that keeps throwing unexpectedly dead-letters the batch rather than retrying it forever', async () => {
    const h = new Harness();
    h.output.fault = 'bug';
    h.sendAll(GOOD.slice(0, 3));
    await settles(h, { stored: 0, deadLettered: 3 });
    expect(h.deadLetters.letters.every((l) => l.reason === 'storage_rejected' && /something unexpected/.test(l.detail))).toBe(true);
  });

  for (const fault of ['refuse-bad', 'refuse-bad-named'] as const) {
    it(`a 400 refusing some lines (${fault === 'refuse-bad' ? 'unnamed: bisected' : 'named by the output'}): only those are dead-lettered`, async () => {
      const h = new Harness();
      h.output.fault = fault;
      h.sendAll(['a', 'bad1', 'b', 'c', 'bad2', 'd', 'poison3', 'e']);
      await settles(h, { stored: 5, deadLettered: 3 });
      expect([...h.output.stored].sort()).toEqual(['a', 'b', 'c', 'd', 'e'].map((d, i) => `m,device=${d} seq=${[1, 3, 4, 6, 8][i]}i`).sort());
      expect(h.deadLetters.letters.map((l) => l.topic).sort()).toEqual(['ok/bad1', 'ok/bad2', 'ok/poison3']);
      if (fault === 'refuse-bad-named') expect(h.output.writes).toBeLessThan(6); // no bisection needed
    });
  }

  it('output down and the spool not writable (ENOSPC): nothing is acked or lost, /readyz would say why; recovers when the spool does', async () => {
    const h = new Harness({ maxUnackedAgeMs: 50 });
    h.output.fault = 'retriable';
    h.spool.appendFault = 'enospc';
    h.sendAll([...GOOD, 'reject:r2']);
    await waitUntil(() => !h.runtime.health().spoolWritable, 5000, 'spool reported unwritable', 5);
    await sleep(100);
    expect(h.runtime.health().pending).toBe(8); // the readings wait, unacknowledged
    expect(h.runtime.checks()).toMatchObject({ unackedWithinBound: false, spoolWritable: false });
    expect(h.pubacks).toEqual([]); // the rejection is durable but its PUBACK waits behind earlier messages
    expect(h.ledger.totals()).toMatchObject({ received: 9, stored: 0, deadLettered: 1, inSpool: 0 });
    h.spool.appendFault = 'none';
    await waitUntil(() => h.ledger.totals().inSpool === 8, 5000, 'spooled once the disk is back', 5);
    h.output.fault = 'none';
    await settles(h, { stored: 8, deadLettered: 1 });
  });

  it('output down and the spool not writable: recovers when the output comes back first', async () => {
    const h = new Harness();
    h.output.fault = 'network';
    h.spool.appendFault = 'enospc';
    h.sendAll(GOOD);
    await waitUntil(() => !h.runtime.health().spoolWritable, 5000, 'spool reported unwritable', 5);
    h.output.fault = 'none';
    await waitUntil(() => h.unsettled === 0, 5000, 'stored directly', 5);
    h.spool.appendFault = 'none';
    expect(h.output.stored.size).toBe(8);
    expect(h.ledger.totals()).toMatchObject({ stored: 8, inSpool: 0 });
    await h.runtime.drain();
    expect(h.allAckedOnce()).toBe(true);
  });

  it('a full spool holds acknowledgements back until the output takes the data, and is not full once emptied', async () => {
    const h = new Harness();
    h.output.fault = 'retriable';
    h.sendAll(GOOD.slice(0, 4));
    await waitUntil(() => h.ledger.totals().inSpool === 4, 5000, 'a first batch spooled', 5);
    h.spool.appendFault = 'full';
    h.sendAll(GOOD.slice(4));
    await waitUntil(() => h.runtime.health().spoolFull, 5000, 'spool full reported', 5);
    expect(h.runtime.checks().canStore).toBe(false);
    expect(h.pubacks).toEqual([1, 2, 3, 4]);
    h.output.fault = 'none';
    await settles(h, { stored: 8, deadLettered: 0 });
    // The spool was emptied by replay: it is not full any more (no append was needed to say so),
    // so the next outage starts ready.
    expect(h.runtime.health().spoolFull).toBe(false);
    h.output.fault = 'retriable';
    expect(h.runtime.checks().canStore).toBe(true);
  });

  it('a spool record damaged on disk is dead-lettered as it stands and replay goes on; the ledger balances', async () => {
    const h = new Harness();
    h.output.fault = 'retriable';
    h.sendAll(GOOD);
    await waitUntil(() => h.ledger.totals().inSpool === 8, 5000, 'spooled', 5);
    // Damage the record only once a replay attempt has failed at reading it, so no attempt
    // still holds the record as it was before (that attempt would store it, undamaged).
    h.spool.readFault = true;
    const failures = h.spool.readFailures;
    await waitUntil(() => h.spool.readFailures > failures, 10_000, 'a replay read failed', 5);
    const dir = h.spool.inner.dir;
    const seg = readdirSync(dir).find((f) => f.startsWith('seg-'))!;
    const fd = openSync(join(dir, seg), 'r+');
    writeSync(fd, '#', 0); // the first record (4 points) no longer parses
    closeSync(fd);
    h.spool.readFault = false;
    h.output.fault = 'none';
    await settles(h, { stored: 4, deadLettered: 4 });
    expect(h.deadLetters.letters).toHaveLength(1);
    expect(h.deadLetters.letters[0]).toMatchObject({ reason: 'storage_rejected', topic: '(spool)' });
    expect(h.deadLetters.letters[0].detail).toMatch(/damaged on disk/);
    expect(h.deadLetters.letters[0].payload.toString()).toMatch(/^#"sources"/);
  });

  it('stopping while a write hangs takes the grace plus about a second, and nacks the batch', async () => {
    const h = new Harness();
    h.output.fault = 'hang';
    h.sendAll(['a', 'b']);
    await waitUntil(() => h.output.writes > 0, 5000, 'write on the wire');
    const t0 = Date.now();
    await h.runtime.stop(100);
    expect(Date.now() - t0).toBeLessThan(5000); // generous: a liveness bound, not a measurement
    expect([...h.settled.values()]).toEqual([{ acks: 0, nacks: 1 }, { acks: 0, nacks: 1 }]);
    expect(h.ledger.totals()).toMatchObject({ received: 2, nacked: 2, stored: 0 });
  });

  it('spool replay: a refused chunk goes one record at a time, a retriable error there (defect 2: crashed the process) is retried', async () => {
    const h = new Harness({ retries: 0 });
    h.output.fault = 'retriable';
    h.sendAll(['a', 'b', 'c', 'd', 'bad1', 'e', 'f', 'g', 'h', 'i']);
    await waitUntil(() => h.ledger.totals().inSpool === 10, 5000, 'spooled', 5);
    // Replay meets a 400 for the chunk, then a network error on its single records, then recovers.
    const before = h.output.writes;
    h.output.plan([{ fault: 'refuse-bad', failures: 1 }, { fault: 'network', failures: 3 }, { fault: 'refuse-bad' }]);
    await waitUntil(() => h.output.writes >= before + 5, 20_000, 'the refused chunk, three network errors, then single records');
    await settles(h, { stored: 9, deadLettered: 1 });
    expect(h.deadLetters.letters).toHaveLength(1);
    expect(h.deadLetters.letters[0]).toMatchObject({ reason: 'storage_rejected', topic: '(spool)' });
    expect(h.deadLetters.letters[0].payload.toString()).toContain('device=bad1');
  });

  it('spool replay survives failing reads and commits, and counts each record once', async () => {
    const h = new Harness();
    h.output.fault = 'retriable';
    h.sendAll(GOOD);
    await waitUntil(() => h.ledger.totals().inSpool === 8, 5000, 'spooled', 5);
    h.spool.readFault = true;
    // A replay read before the fault may still have its write under way: it must meet the
    // failing output, not a healthy one, so the output recovers only once a read has failed.
    await waitUntil(() => h.spool.readFailures > 0, 10_000, 'a spool read failed', 5);
    h.output.fault = 'none';
    await sleep(50);
    h.spool.readFault = false;
    h.spool.commitFault = true;
    const writes = h.output.writes;
    await waitUntil(() => h.output.writes > writes && h.spool.commitFailures > 0, 10_000, 'replay writes before the commit fails', 5);
    await sleep(50);
    expect(h.ledger.totals().stored).toBe(0); // nothing counted while commits fail
    h.spool.commitFault = false;
    await settles(h, { stored: 8, deadLettered: 0 });
  });

  it('a failing dead-letter store keeps rejections unacknowledged, then recovers (defect 4)', async () => {
    const h = new Harness();
    h.deadLetters.failing = true;
    h.sendAll(['reject:r1', 'a', 'poison4', 'b', 'reject:r2']);
    await waitUntil(() => !h.runtime.health().deadLetterWritable, 5000, 'dead-letter store reported unwritable', 5);
    await waitUntil(() => h.ledger.totals().stored === 2, 5000, 'readings stored meanwhile', 5);
    expect(h.pubacks).toEqual([]); // message 1 (a rejection) holds every later PUBACK
    expect(h.runtime.checks().deadLetterWritable).toBe(false);
    h.deadLetters.failing = false;
    await settles(h, { stored: 2, deadLettered: 3 });
  });

  it('stop with a batch that cannot be made durable nacks it, exactly once, and counts it', async () => {
    const h = new Harness();
    h.output.fault = 'retriable';
    h.spool.appendFault = 'enospc';
    h.sendAll(['a', 'b', 'c']);
    await waitUntil(() => !h.runtime.health().spoolWritable, 5000, 'stuck', 5);
    await h.runtime.stop(20);
    expect([...h.settled.values()].every((c) => c.acks === 0 && c.nacks === 1)).toBe(true);
    expect(h.ledger.totals()).toMatchObject({ received: 3, nacked: 3, stored: 0 });
    // A message arriving after stop is handed back at once.
    h.send(message('ok', 'late', 9));
    expect(h.settled.get(4)).toEqual({ acks: 0, nacks: 1 });
  });

  it('marks the dead letter of a message the broker redelivered (delivery is at least once)', async () => {
    const h = new Harness();
    h.send({ ...message('reject', 'r1', 1), dup: true });
    h.send(message('reject', 'r2', 2));
    await settles(h, { stored: 0, deadLettered: 2 });
    expect(h.deadLetters.letters.map((l) => [l.topic, l.dup ?? false])).toEqual([['reject/r1', true], ['reject/r2', false]]);
    expect(toDeadLetter(h.deadLetters.letters[0], 100).redelivered).toBe(true);
    expect(toDeadLetter(h.deadLetters.letters[1], 100).redelivered).toBeUndefined();
  });

  it('restores the per-source counts of a spool left by an earlier run and replays it', async () => {
    const first = new Harness({ retries: 0 });
    first.output.fault = 'retriable';
    first.sendAll(GOOD);
    await waitUntil(() => first.ledger.totals().inSpool === 8, 5000, 'spooled', 5);
    await first.runtime.stop(0);
    await first.spool.close();
    const again = new Harness({}, new FaultySpool(first.spool.inner.dir));
    expect(again.ledger.totals()).toMatchObject({ received: 8, inSpool: 8 });
    await waitUntil(() => again.spool.isEmpty() && again.ledger.totals().stored === 8, 5000, 'replayed after restart', 5);
    expect(again.ledger.totals()).toEqual({ received: 8, stored: 8, deadLettered: 0, inSpool: 0, nacked: 0 });
  });

  it('holds at most maxPending messages: past it the source is asked to stop reading, and to read again once half have settled', async () => {
    // A broker may send far more than the receive window (mosquitto with max_queued_messages 0
    // did: 250,000 messages of a backlog sat in memory); the runtime bounds what it holds itself.
    const h = new Harness({ maxPending: 10 });
    const pressure: boolean[] = [];
    h.runtime.on('pressure', (on) => pressure.push(on));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const write = h.output.write.bind(h.output);
    h.output.write = async (lines) => {
      await gate; // InfluxDB slower than the input
      return write(lines);
    };
    h.sendAll(Array.from({ length: 9 }, (_, i) => `d${i}`));
    expect(pressure).toEqual([]);
    h.send(message('ok', 'd9', 10));
    expect(pressure).toEqual([true]);
    expect(h.runtime.health().pending).toBe(10);
    open();
    await settles(h, { stored: 10, deadLettered: 0 });
    expect(pressure).toEqual([true, false]);
  });
});
