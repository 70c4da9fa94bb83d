import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpoolFullError } from '../../core/errors.js';
import { Spool, type SpoolRecord } from '../../storage/spool/spool.js';
import { tempDir } from '../helpers/services.js';

const rec = (i: number, n = 3, source = 'agri/220100/soil'): SpoolRecord => ({ sources: { [source]: n }, lines: Array.from({ length: n }, (_, j) => `m,t=a v=${i}.${j} ${i}`) });
const opts = { maxBytes: 1 << 20, segmentBytes: 300 };
const segments = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('seg-')).sort();
const lineOf = (r: SpoolRecord) => JSON.stringify(r) + '\n';

/** Replays and commits everything, returning the first line of each record. */
async function drain(spool: Spool, maxPoints = 6): Promise<string[]> {
  const seen: string[] = [];
  for (let chunk = await spool.read(maxPoints); chunk; chunk = await spool.read(maxPoints)) {
    seen.push(...chunk.records.map((r) => r.lines[0]));
    await spool.commit(chunk.next);
  }
  return seen;
}

/** The first line of each record waiting, without committing. */
async function peek(spool: Spool): Promise<string[]> {
  return ((await spool.read(Number.MAX_SAFE_INTEGER))?.records ?? []).map((r) => r.lines[0]);
}

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });

/**
 * An opener whose handles fail while `fault.on`: `write` puts half its bytes in the file first
 * (a torn record), `datasync` fails outright.
 */
function faultyOpen(fault: { on: boolean; at: 'write' | 'datasync' }): typeof open {
  return async (...args: Parameters<typeof open>) => {
    const handle = await open(...args);
    const write = handle.write.bind(handle) as (buf: Buffer, off: number, len: number, pos: number) => Promise<{ bytesWritten: number }>;
    const datasync = handle.datasync.bind(handle);
    Object.assign(handle, {
      async write(buf: Buffer, off: number, len: number, pos: number) {
        if (!fault.on || fault.at !== 'write') return write(buf, off, len, pos);
        await write(buf, off, len >> 1, pos);
        throw enospc();
      },
      async datasync() {
        if (fault.on && fault.at === 'datasync') throw enospc();
        return datasync();
      },
    });
    return handle;
  };
}

describe('durable spool', () => {
  it('replays records in order across segments and survives a restart mid-replay', async () => {
    const dir = tempDir();
    let spool = new Spool(dir, opts);
    for (let i = 0; i < 10; i++) await spool.append(rec(i));
    expect(segments(dir).length).toBeGreaterThan(2);
    const first = (await spool.read(6))!;
    expect(first.records.map((r) => r.lines[0])).toEqual(['m,t=a v=0.0 0', 'm,t=a v=1.0 1']);
    await spool.commit(first.next);
    await spool.close();

    spool = new Spool(dir, opts); // restart: the cursor persists
    const seen: string[] = [];
    for (let chunk = await spool.read(6); chunk; chunk = await spool.read(6)) {
      seen.push(...chunk.records.map((r) => r.lines[0]));
      await spool.commit(chunk.next);
    }
    expect(seen).toEqual(Array.from({ length: 8 }, (_, i) => `m,t=a v=${i + 2}.0 ${i + 2}`));
    expect(spool.isEmpty()).toBe(true);
    expect(spool.size).toBe(0);
    await spool.append(rec(99));
    expect((await spool.read(10))!.records[0].lines[0]).toBe('m,t=a v=99.0 99');
    await spool.close();
  });

  it('reads a record larger than a read chunk whole', async () => {
    const spool = new Spool(tempDir(), { maxBytes: 16 << 20, segmentBytes: 64 << 20 });
    const big: SpoolRecord = { sources: { s: 1 }, lines: ['x'.repeat(3 << 20)] };
    await spool.append(rec(1));
    await spool.append(big);
    await spool.append(rec(2));
    const chunk = (await spool.read(100))!;
    expect(chunk.records).toEqual([rec(1), big, rec(2)]);
    await spool.close();
  });

  it('drops a torn tail left by a crash mid-append', async () => {
    const dir = tempDir();
    const spool = new Spool(dir, opts);
    await spool.append(rec(1));
    await spool.close();
    const seg = segments(dir)[0];
    appendFileSync(join(dir, seg), '{"sources":{"x":1},"lines":["m v=1');
    const reopened = new Spool(dir, opts);
    const chunk = (await reopened.read(100))!;
    expect(chunk.records).toHaveLength(1);
    await reopened.commit(chunk.next);
    expect(reopened.isEmpty()).toBe(true);
    await reopened.close();
  });

  it('refuses appends past its bound', async () => {
    const spool = new Spool(tempDir(), { maxBytes: 200, segmentBytes: 1000 });
    await spool.append(rec(1));
    await expect(spool.append(rec(2, 10))).rejects.toBeInstanceOf(SpoolFullError);
    expect((await spool.read(100))!.records).toHaveLength(1);
    await spool.close();
  });

  it('counts appends under way against its bound', async () => {
    const racing = new Spool(tempDir(), { maxBytes: 2 * lineOf(rec(0)).length, segmentBytes: 1000 });
    const results = await Promise.allSettled([0, 1, 2, 3].map((i) => racing.append(rec(i))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect(results[2]).toMatchObject({ reason: expect.any(SpoolFullError) });
    expect(await peek(racing)).toEqual(['m,t=a v=0.0 0', 'm,t=a v=1.0 1']);
    await racing.close();
  });

  it('knows the points pending per source after appends, partial commits and a restart', async () => {
    const dir = tempDir();
    let spool = new Spool(dir, opts);
    expect(spool.pending()).toEqual({});
    await spool.append(rec(0, 3, 'a'));
    await spool.append({ sources: { a: 1, b: 2 }, lines: ['m v=1 1', 'm v=2 1', 'm v=3 1'] });
    await spool.append(rec(2, 4, 'b'));
    await spool.append(rec(3, 5, 'c'));
    expect(spool.pending()).toEqual({ a: 4, b: 6, c: 5 });

    const first = (await spool.read(3))!;
    expect(first.records).toHaveLength(1);
    await spool.commit(first.next);
    expect(spool.pending()).toEqual({ a: 1, b: 6, c: 5 });
    const size = spool.size;
    await spool.close();

    spool = new Spool(dir, opts);
    expect(spool.pending()).toEqual({ a: 1, b: 6, c: 5 });
    expect(spool.size).toBe(size);
    const second = (await spool.read(4))!;
    expect(second.records).toHaveLength(2);
    await spool.commit(second.next);
    expect(spool.pending()).toEqual({ c: 5 });
    await spool.close();

    spool = new Spool(dir, opts);
    expect(spool.pending()).toEqual({ c: 5 });
    await drain(spool);
    expect(spool.pending()).toEqual({});
    expect(segments(dir)).toEqual([]); // replayed segments are deleted, even ones written before the restart
    await spool.close();
    expect(new Spool(dir, opts).pending()).toEqual({});
  });

  it('keeps its state in state.json: cursor, segment ends and pending counts', async () => {
    const dir = tempDir();
    const spool = new Spool(dir, { maxBytes: 1 << 20, segmentBytes: 1000 });
    await spool.append(rec(1));
    await spool.append(rec(2));
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(state).toEqual({ version: 1, cursor: { segment: 1, offset: 0 }, ends: { 1: 2 * lineOf(rec(1)).length }, pending: { 'agri/220100/soil': 6 } });
    await spool.close();
  });

  it('commits a position that is not from the last read', async () => {
    const spool = new Spool(tempDir(), opts);
    for (let i = 0; i < 5; i++) await spool.append(rec(i, 2, `s${i % 2}`));
    const early = (await spool.read(4))!;
    await spool.read(100);
    await spool.commit(early.next);
    expect(spool.pending()).toEqual({ s0: 4, s1: 2 });
    await expect(spool.commit({ segment: 999, offset: 0 })).rejects.toBeInstanceOf(RangeError);
    expect(await peek(spool)).toEqual(['m,t=a v=2.0 2', 'm,t=a v=3.0 3', 'm,t=a v=4.0 4']);
    await spool.close();
  });

  it('at start cuts whatever lies past the recorded ends and deletes unknown segments, without reading them', async () => {
    const dir = tempDir();
    let spool = new Spool(dir, { maxBytes: 1 << 20, segmentBytes: 1000 });
    await spool.append(rec(1));
    await spool.append(rec(2));
    const size = spool.size;
    await spool.close();
    const seg = join(dir, segments(dir)[0]);
    const length = statSync(seg).size;
    // A whole, valid-looking record that no state file counts: its append was never acknowledged.
    appendFileSync(seg, lineOf(rec(7)));
    writeFileSync(join(dir, 'seg-00000099.jsonl'), lineOf(rec(99)));

    spool = new Spool(dir, { maxBytes: 1 << 20, segmentBytes: 1000 });
    expect(statSync(seg).size).toBe(length);
    expect(existsSync(join(dir, 'seg-00000099.jsonl'))).toBe(false);
    expect(spool.size).toBe(size);
    expect(spool.pending()).toEqual({ 'agri/220100/soil': 6 });
    expect(await peek(spool)).toEqual(['m,t=a v=1.0 1', 'm,t=a v=2.0 2']);
    await spool.append(rec(3));
    expect(await drain(spool)).toEqual(['m,t=a v=1.0 1', 'm,t=a v=2.0 2', 'm,t=a v=3.0 3']);
    await spool.close();
  });

  it.skipIf(!existsSync('/dev/full'))('a failed append on a device that is full leaves nothing behind; the next one succeeds', async () => {
    const dir = tempDir();
    const small = { maxBytes: 1 << 20, segmentBytes: 100 }; // one record per segment
    let spool = new Spool(dir, small);
    await spool.append(rec(1));
    const size = spool.size;
    const pending = spool.pending();
    // The next segment the spool opens is /dev/full: writing fails with ENOSPC, truncating too.
    symlinkSync('/dev/full', join(dir, 'seg-00000002.jsonl'));
    await expect(spool.append(rec(2))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(spool.size).toBe(size);
    expect(spool.pending()).toEqual(pending);

    await spool.append(rec(3)); // a new segment, no restart
    expect(spool.pending()).toEqual({ 'agri/220100/soil': 6 });
    expect(await peek(spool)).toEqual(['m,t=a v=1.0 1', 'm,t=a v=3.0 3']);
    await spool.close();

    spool = new Spool(dir, small);
    expect(existsSync(join(dir, 'seg-00000002.jsonl'))).toBe(false);
    expect(spool.pending()).toEqual({ 'agri/220100/soil': 6 });
    expect(await drain(spool)).toEqual(['m,t=a v=1.0 1', 'm,t=a v=3.0 3']);
    await spool.close();
  });

  it.each(['write', 'datasync'] as const)('a %s failing mid-segment is cut back; the next append succeeds without a restart', async (at) => {
    const dir = tempDir();
    const fault = { on: false, at };
    const big = { maxBytes: 1 << 20, segmentBytes: 1 << 20 };
    let spool = new Spool(dir, big, { open: faultyOpen(fault) });
    await spool.append(rec(1));
    const size = spool.size;
    const seg = join(dir, segments(dir)[0]);
    fault.on = true;
    await expect(spool.append(rec(2))).rejects.toMatchObject({ code: 'ENOSPC', message: 'ENOSPC: no space left on device' });
    expect(spool.size).toBe(size);
    expect(spool.pending()).toEqual({ 'agri/220100/soil': 3 });
    expect(statSync(seg).size).toBe(size); // the torn half record is gone
    fault.on = false;

    await spool.append(rec(3));
    expect(segments(dir)).toHaveLength(1);
    expect(await peek(spool)).toEqual(['m,t=a v=1.0 1', 'm,t=a v=3.0 3']);
    await spool.close();

    spool = new Spool(dir, big);
    expect(spool.pending()).toEqual({ 'agri/220100/soil': 6 });
    expect(await drain(spool)).toEqual(['m,t=a v=1.0 1', 'm,t=a v=3.0 3']);
    await spool.close();
  });

  it('an append whose state cannot be written fails and is cut back', async () => {
    const dir = tempDir();
    const big = { maxBytes: 1 << 20, segmentBytes: 1 << 20 };
    let spool = new Spool(dir, big);
    await spool.append(rec(1));
    const size = spool.size;
    mkdirSync(join(dir, 'state.json.tmp')); // opening the temp state file fails (EISDIR)
    await expect(spool.append(rec(2))).rejects.toMatchObject({ code: 'EISDIR' });
    expect(spool.size).toBe(size);
    expect(spool.pending()).toEqual({ 'agri/220100/soil': 3 });
    expect(statSync(join(dir, segments(dir)[0])).size).toBe(size);
    rmdirSync(join(dir, 'state.json.tmp'));

    await spool.append(rec(3));
    expect(await peek(spool)).toEqual(['m,t=a v=1.0 1', 'm,t=a v=3.0 3']);
    await spool.close();
    spool = new Spool(dir, big);
    expect(await drain(spool)).toEqual(['m,t=a v=1.0 1', 'm,t=a v=3.0 3']);
    await spool.close();
  });

  it('reads a spool of the previous format (cursor.json, no state) once', async () => {
    const dir = tempDir();
    const seg1 = [rec(0, 2, 'a'), rec(1, 2, 'a')].map(lineOf).join('');
    const seg2 = [rec(2, 2, 'a'), rec(3, 3, 'b'), rec(4, 1, 'a')].map(lineOf).join('');
    const seg3 = lineOf(rec(5, 4, 'b')) + '{"sources":{"b":9},"lines":["m v'; // torn tail
    writeFileSync(join(dir, 'seg-00000001.jsonl'), seg1); // replayed already
    writeFileSync(join(dir, 'seg-00000002.jsonl'), seg2);
    writeFileSync(join(dir, 'seg-00000003.jsonl'), seg3);
    writeFileSync(join(dir, 'cursor.json'), JSON.stringify({ segment: 2, offset: lineOf(rec(2, 2, 'a')).length }));

    let spool = new Spool(dir, opts);
    expect(spool.pending()).toEqual({ a: 1, b: 7 });
    expect(spool.size).toBe(Buffer.byteLength(seg2) - lineOf(rec(2, 2, 'a')).length + lineOf(rec(5, 4, 'b')).length);
    expect(existsSync(join(dir, 'cursor.json'))).toBe(false);
    expect(existsSync(join(dir, 'state.json'))).toBe(true);
    expect(segments(dir)).toEqual(['seg-00000002.jsonl', 'seg-00000003.jsonl']);
    expect(statSync(join(dir, 'seg-00000003.jsonl')).size).toBe(lineOf(rec(5, 4, 'b')).length);
    const first = (await spool.read(3))!;
    expect(first.records.map((r) => r.lines[0])).toEqual(['m,t=a v=3.0 3']);
    await spool.commit(first.next);
    await spool.close();

    spool = new Spool(dir, opts); // from the state file now
    expect(spool.pending()).toEqual({ a: 1, b: 4 });
    expect(await drain(spool)).toEqual(['m,t=a v=4.0 4', 'm,t=a v=5.0 5']);
    await spool.append(rec(6));
    expect(segments(dir)).toEqual(['seg-00000004.jsonl']);
    await spool.close();
  });

  it('lets one replayer run alongside appends', async () => {
    const spool = new Spool(tempDir(), { maxBytes: 1 << 20, segmentBytes: 500 });
    const seen: string[] = [];
    let appending = true;
    const appends = (async () => {
      for (let i = 0; i < 40; i++) await spool.append(rec(i, 1));
      appending = false;
    })();
    const replay = (async () => {
      while (appending || !spool.isEmpty()) {
        const chunk = await spool.read(5);
        if (!chunk) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        seen.push(...chunk.records.map((r) => r.lines[0]));
        await spool.commit(chunk.next);
      }
    })();
    await Promise.all([appends, replay]);
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `m,t=a v=${i}.0 ${i}`));
    expect(spool.pending()).toEqual({});
    await spool.close();
  });
});
