import { mkdirSync, readdirSync, readFileSync, statSync, renameSync, openSync, writeSync, fsyncSync, closeSync, unlinkSync, existsSync, truncateSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SpoolFullError } from '../../core/errors.js';
import type { SourceKey } from '../../core/types.js';

/** One spooled batch: its line protocol and how many points of each source it holds. */
export interface SpoolRecord {
  sources: Record<SourceKey, number>;
  lines: string[];
}

/** Where replay has got to: the segment being replayed and the byte offset inside it. */
interface Cursor {
  segment: number;
  offset: number;
}

const SEGMENT = /^seg-(\d{8})\.jsonl$/;
const segName = (n: number) => `seg-${String(n).padStart(8, '0')}.jsonl`;

export interface SpoolOptions {
  maxBytes: number;
  segmentBytes: number;
}

/**
 * The durable spool: an append-only log of batches that InfluxDB could not take, in segment
 * files of JSON lines. `append` resolves only after the record is fsync'd, so the caller may then
 * acknowledge the messages. Replay reads records in order; `commit` moves a persisted cursor past
 * them and deletes finished segments. A crash between write and commit replays a record twice,
 * which is harmless: points are idempotent (same series and time overwrite).
 *
 * One writer and one replayer may run at the same time; appends are serialised internally.
 */
export class Spool {
  private cursor: Cursor = { segment: 1, offset: 0 };
  private segments: number[] = [];
  private writeHandle?: FileHandle;
  private writeSegment = 0;
  private writeSize = 0;
  private bytes = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string, private readonly opts: SpoolOptions) {
    mkdirSync(dir, { recursive: true });
    const cursorFile = join(dir, 'cursor.json');
    if (existsSync(cursorFile)) this.cursor = JSON.parse(readFileSync(cursorFile, 'utf8')) as Cursor;
    this.segments = readdirSync(dir)
      .map((f) => SEGMENT.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .filter((n) => n >= this.cursor.segment)
      .sort((a, b) => a - b);
    for (const n of this.segments) {
      truncateTornTail(join(dir, segName(n)));
      this.bytes += statSync(join(dir, segName(n))).size;
    }
    if (this.segments[0] === this.cursor.segment) this.bytes -= this.cursor.offset;
    else this.cursor = { segment: this.segments[0] ?? this.cursor.segment, offset: 0 };
  }

  /** Bytes waiting to be replayed. */
  get size(): number {
    return this.bytes;
  }
  get limit(): number {
    return this.opts.maxBytes;
  }
  isEmpty(): boolean {
    return this.bytes === 0;
  }

  /** Appends a record durably. Rejects with SpoolFullError when it would exceed maxBytes. */
  append(record: SpoolRecord): Promise<void> {
    const buf = Buffer.from(JSON.stringify(record) + '\n', 'utf8');
    if (this.bytes + buf.length > this.opts.maxBytes) return Promise.reject(new SpoolFullError(this.bytes, this.opts.maxBytes));
    this.bytes += buf.length;
    const run = this.chain.then(async () => {
      if (!this.writeHandle || this.writeSize + buf.length > this.opts.segmentBytes) await this.rotate();
      await this.writeHandle!.write(buf);
      await this.writeHandle!.datasync();
      this.writeSize += buf.length;
    });
    this.chain = run.catch(() => {});
    return run.catch((e) => {
      this.bytes -= buf.length;
      throw e;
    });
  }

  private async rotate(): Promise<void> {
    await this.writeHandle?.close();
    const last = this.segments.at(-1) ?? this.cursor.segment - 1;
    this.writeSegment = Math.max(last + 1, this.cursor.segment);
    this.writeHandle = await open(join(this.dir, segName(this.writeSegment)), 'a');
    this.writeSize = 0;
    this.segments.push(this.writeSegment);
    fsyncDir(this.dir);
  }

  /**
   * Reads up to `maxPoints` points of records from the cursor on, in order, without moving the
   * cursor. Returns the records and the position to pass to `commit` once they are stored.
   */
  async read(maxPoints: number): Promise<{ records: SpoolRecord[]; next: Cursor } | undefined> {
    await this.chain; // see every record appended so far
    let { segment, offset } = this.cursor;
    const records: SpoolRecord[] = [];
    let points = 0;
    for (const seg of this.segments.filter((n) => n >= segment)) {
      if (seg !== segment) {
        segment = seg;
        offset = 0;
      }
      const data = readFileSync(join(this.dir, segName(seg)));
      while (offset < data.length && points < maxPoints) {
        const nl = data.indexOf(10, offset);
        if (nl < 0) break; // a torn tail from a crash mid-write: never fsync'd, never acked
        const rec = JSON.parse(data.subarray(offset, nl).toString('utf8')) as SpoolRecord;
        records.push(rec);
        points += rec.lines.length;
        offset = nl + 1;
      }
      if (points >= maxPoints) break;
    }
    return records.length ? { records, next: { segment, offset } } : undefined;
  }

  /** Marks everything before `next` as stored: persists the cursor and drops finished segments. */
  async commit(next: Cursor): Promise<void> {
    await this.chain;
    let consumed = 0;
    for (const n of this.segments.filter((s) => s >= this.cursor.segment && s <= next.segment)) {
      const from = n === this.cursor.segment ? this.cursor.offset : 0;
      const to = n === next.segment ? next.offset : statSync(join(this.dir, segName(n))).size;
      consumed += to - from;
    }
    this.cursor = next;
    writeFileDurable(join(this.dir, 'cursor.json'), JSON.stringify(next));
    for (const n of this.segments.filter((s) => s < next.segment)) unlinkSync(join(this.dir, segName(n)));
    this.segments = this.segments.filter((s) => s >= next.segment);
    this.bytes -= consumed;
    if (this.bytes === 0 && this.writeHandle && next.segment === this.writeSegment) {
      // Fully replayed: the next append starts a fresh segment and this one goes.
      await this.writeHandle.close();
      this.writeHandle = undefined;
      unlinkSync(join(this.dir, segName(next.segment)));
      this.segments = [];
      this.cursor = { segment: next.segment + 1, offset: 0 };
      writeFileDurable(join(this.dir, 'cursor.json'), JSON.stringify(this.cursor));
    }
  }

  async close(): Promise<void> {
    await this.chain;
    await this.writeHandle?.close();
    this.writeHandle = undefined;
  }
}

/** A crash mid-append leaves a partial last line that was never fsync'd nor acked: drop it. */
function truncateTornTail(file: string): void {
  const data = readFileSync(file);
  if (data.length === 0 || data[data.length - 1] === 10) return;
  truncateSync(file, data.lastIndexOf(10) + 1);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeFileDurable(file: string, text: string): void {
  const tmp = file + '.tmp';
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(join(file, '..'));
}
