import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpoolFullError } from '../../core/errors.js';
import { Spool } from '../../storage/spool/spool.js';
import { tempDir } from '../helpers/services.js';

const rec = (i: number, n = 3) => ({ sources: { 'agri/220100/soil': n }, lines: Array.from({ length: n }, (_, j) => `m,t=a v=${i}.${j} ${i}`) });
const opts = { maxBytes: 1 << 20, segmentBytes: 300 };

describe('durable spool', () => {
  it('replays records in order across segments and survives a restart mid-replay', async () => {
    const dir = tempDir();
    let spool = new Spool(dir, opts);
    for (let i = 0; i < 10; i++) await spool.append(rec(i));
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-')).length).toBeGreaterThan(2);
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

  it('drops a torn tail left by a crash mid-append', async () => {
    const dir = tempDir();
    const spool = new Spool(dir, opts);
    await spool.append(rec(1));
    await spool.close();
    const seg = readdirSync(dir).find((f) => f.startsWith('seg-'))!;
    appendFileSync(join(dir, seg), '{"sources":{"x":1},"lines":["m v=1');
    const reopened = new Spool(dir, opts);
    const chunk = (await reopened.read(100))!;
    expect(chunk.records).toHaveLength(1);
    await reopened.commit(chunk.next);
    expect(reopened.isEmpty()).toBe(true);
  });

  it('refuses appends past its bound', async () => {
    const spool = new Spool(tempDir(), { maxBytes: 200, segmentBytes: 1000 });
    await spool.append(rec(1));
    await expect(spool.append(rec(2, 10))).rejects.toBeInstanceOf(SpoolFullError);
    expect((await spool.read(100))!.records).toHaveLength(1);
  });
});
