import { appendFileSync, existsSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Rejection } from '../../core/types.js';
import type { DeadLetter } from '../../deadletter/record.js';
import { DeadLetterSink } from '../../deadletter/sink.js';
import { tempDir } from '../helpers/services.js';

const log = pino({ level: 'silent' });
const rejection = (n: number, o: Partial<Rejection> = {}): Rejection => ({
  source: 'agri/220100/soil',
  reason: 'schema_violation',
  detail: `field moisture out of range (#${n})`,
  topic: 'jl/agri/220100/soil/soil-220100-0001',
  payload: Buffer.from(JSON.stringify({ n })),
  receivedAt: Date.now(),
  ...o,
});
/** Today's file: the sink names it by the UTC day. */
const todayFile = (dir: string) => join(dir, `dead-letters-${new Date().toISOString().slice(0, 10)}.jsonl`);
const letters = (file: string): DeadLetter[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as DeadLetter);
const details = (file: string) => letters(file).map((l) => l.detail);
const fileHandleProto = async (dir: string) => {
  const h = await open(join(dir, 'probe'), 'w');
  await h.close();
  // A function-valued property, not a method: the test calls the original with a handle as `this`.
  return Object.getPrototypeOf(h) as { datasync: (this: unknown) => Promise<void> };
};

describe('dead-letter sink', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('fsyncs letters before write resolves; they read back as JSON lines', async () => {
    const dir = tempDir();
    const events: string[] = [];
    const proto = await fileHandleProto(dir);
    const datasync = proto.datasync;
    vi.spyOn(proto, 'datasync').mockImplementation(async function (this: unknown) {
      await datasync.call(this);
      events.push('datasync');
    });
    const sink = new DeadLetterSink(join(dir, 'dlq'), 1024, log);
    await sink.write([rejection(1), rejection(2, { reason: 'bad_signature' })]);
    events.push('resolved');
    expect(events).toEqual(['datasync', 'resolved']);
    await sink.write([rejection(3)]);
    expect(sink.writable).toBe(true);
    const file = todayFile(join(dir, 'dlq'));
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    const got = letters(file);
    expect(got.map((l) => l.reason)).toEqual(['schema_violation', 'bad_signature', 'schema_violation']);
    expect(got[0]).toMatchObject({ topic: 'jl/agri/220100/soil/soil-220100-0001', source: 'agri/220100/soil', payload: '{"n":1}', payloadEncoding: 'utf8', truncated: false });
    await sink.close();
  });

  it('a failed write (ENOSPC) rejects, marks the store unwritable and keeps nothing; it recovers once the fault clears', async () => {
    const dir = tempDir();
    const sink = new DeadLetterSink(dir, 1024, log);
    const file = todayFile(dir);
    symlinkSync('/dev/full', file); // every write to today's file fails with ENOSPC
    await expect(sink.write([rejection(1), rejection(2)])).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(sink.writable).toBe(false);
    await expect(sink.write([rejection(3)])).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(sink.writable).toBe(false);

    unlinkSync(file); // fault cleared
    await sink.write([rejection(4), rejection(5)]);
    expect(sink.writable).toBe(true);
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    expect(details(file)).toEqual(['field moisture out of range (#4)', 'field moisture out of range (#5)']);
    await sink.close();
  });

  it('cuts the file back after a failed fsync, so the letters are not kept', async () => {
    const dir = tempDir();
    const proto = await fileHandleProto(dir);
    const sink = new DeadLetterSink(join(dir, 'dlq'), 1024, log);
    await sink.write([rejection(1)]);
    const file = todayFile(join(dir, 'dlq'));
    const before = readFileSync(file, 'utf8');
    vi.spyOn(proto, 'datasync').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await expect(sink.write([rejection(2)])).rejects.toMatchObject({ code: 'EIO' });
    expect(sink.writable).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(before);
    await sink.write([rejection(3)]);
    expect(sink.writable).toBe(true);
    expect(details(file)).toEqual(['field moisture out of range (#1)', 'field moisture out of range (#3)']);
    await sink.close();
  });

  it('starts on a fresh line when the file ends in a torn line', async () => {
    const dir = tempDir();
    const file = todayFile(dir);
    appendFileSync(file, '{"torn":');
    const sink = new DeadLetterSink(dir, 1024, log);
    await sink.write([rejection(1)]);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines[0]).toBe('{"torn":');
    expect(JSON.parse(lines[1]).detail).toBe('field moisture out of range (#1)');
    await sink.close();
  });

  it('recreates a directory removed at runtime; does not throw when it cannot create it', async () => {
    const dir = tempDir();
    const sink = new DeadLetterSink(join(dir, 'dlq'), 1024, log);
    await sink.write([rejection(1)]);
    rmSync(join(dir, 'dlq'), { recursive: true });
    await sink.write([rejection(2)]);
    expect(details(todayFile(join(dir, 'dlq')))).toEqual(['field moisture out of range (#2)']);
    await sink.close();

    appendFileSync(join(dir, 'not-a-dir'), '');
    const blocked = new DeadLetterSink(join(dir, 'not-a-dir', 'dlq'), 1024, log);
    expect(blocked.writable).toBe(false);
    await expect(blocked.write([rejection(3)])).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(existsSync(join(dir, 'not-a-dir', 'dlq'))).toBe(false);
    await blocked.close();
  });

  it('publishes each letter on jl/_dlq/{reason}; a failing publisher does not fail the write', async () => {
    const dir = tempDir();
    const published: { topic: string; letter: DeadLetter }[] = [];
    const sink = new DeadLetterSink(dir, 1024, log, async (topic, body) => {
      published.push({ topic, letter: JSON.parse(body) as DeadLetter });
    });
    await sink.write([rejection(1), rejection(2, { reason: 'bad_signature' })]);
    await vi.waitFor(() => expect(published).toHaveLength(2));
    expect(published.map((p) => p.topic)).toEqual(['jl/_dlq/schema_violation', 'jl/_dlq/bad_signature']);
    expect(published[1].letter).toEqual(letters(todayFile(dir))[1]);
    await sink.close();

    const dir2 = tempDir();
    let calls = 0;
    const failing = new DeadLetterSink(dir2, 1024, log, () => {
      calls++;
      return Promise.reject(new Error('broker down'));
    });
    await expect(failing.write([rejection(3)])).resolves.toBeUndefined();
    await vi.waitFor(() => expect(calls).toBe(1));
    expect(failing.writable).toBe(true);
    expect(details(todayFile(dir2))).toEqual(['field moisture out of range (#3)']);
    await failing.close();
  });
});
