import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { open as openFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SpoolFullError } from '../../core/errors.js';
import type { SpoolChunk, SpoolPosition, SpoolRecord, SpoolStore } from '../../core/stores.js';
import type { SourceKey } from '../../core/types.js';

export type { SpoolChunk, SpoolPosition, SpoolRecord } from '../../core/stores.js';

export interface SpoolOptions {
  maxBytes: number;
  segmentBytes: number;
}

/** How segment files are opened; tests pass an opener whose handles fail on demand. */
export interface SpoolFs {
  open?: typeof openFile;
}

/**
 * What the state file holds: the replay cursor, the valid length of every live segment and the
 * points waiting per source. The state file, not the segment files, is the truth: bytes past a
 * segment's recorded end were never acknowledged.
 */
interface SpoolState {
  cursor: SpoolPosition;
  ends: Map<number, number>;
  pending: Map<SourceKey, number>;
}

interface Writer {
  segment: number;
  handle: FileHandle;
  /** Where the next record goes: the segment's recorded end (0 before its first record). */
  end: number;
}

const STATE_FILE = 'state.json';
const LEGACY_CURSOR_FILE = 'cursor.json';
const SEGMENT = /^seg-(\d{8})\.jsonl$/;
const segName = (n: number) => `seg-${String(n).padStart(8, '0')}.jsonl`;
const CHUNK_BYTES = 1 << 20;

/**
 * The durable spool: an append-only log of batches that InfluxDB could not take, in segment
 * files of JSON lines, with a small state file (cursor, valid end of each segment, points
 * pending per source) replaced atomically after every append and commit.
 *
 * - `append` resolves once the record is fsync'd and the state file counts it; the caller may
 *   then acknowledge it upstream. After a crash the spool holds exactly the records whose append
 *   resolved and that were not committed; a record read but not committed is replayed again,
 *   which is harmless (points are idempotent).
 * - A failed append rejects with the I/O error and leaves nothing behind: its bytes are cut off
 *   (or lie past the recorded end, where nothing reads them) and the counts are unchanged. The
 *   next append works once the fault clears.
 * - Start-up reads only the state file and file sizes, cutting bytes past the recorded ends and
 *   deleting segments the state does not know. Only a spool of the previous format (or one whose
 *   files no longer match the state) is scanned, once.
 *
 * Appends and commits are serialised internally; one replayer (`read`, `commit`) may run
 * alongside the appender.
 */
export class Spool implements SpoolStore {
  private cursor: SpoolPosition = { segment: 1, offset: 0 };
  private ends = new Map<number, number>();
  private counts = new Map<SourceKey, number>();
  private bytes = 0;
  /** Bytes of appends under way: they count against the bound before they land. */
  private reserved = 0;
  private nextSegment = 1;
  private writer?: Writer;
  private reader?: { segment: number; handle: FileHandle };
  /** The replay read buffer: CHUNK_BYTES, grown when one record is larger. */
  private chunk = Buffer.allocUnsafe(0);
  /** Per-source counts of the last chunk read, so its commit need not read it again. */
  private lastRead?: { next: SpoolPosition; counts: Map<SourceKey, number> };
  private queue: Promise<unknown> = Promise.resolve();
  private readonly open: typeof openFile;

  constructor(readonly dir: string, private readonly opts: SpoolOptions, fs: SpoolFs = {}) {
    this.open = fs.open ?? openFile;
    mkdirSync(dir, { recursive: true });
    let state = this.loadState();
    if (!state || !this.filesHold(state)) {
      state = settle(this.rebuildState(state?.cursor ?? this.legacyCursor())).state;
      writeFileDurablySync(join(dir, STATE_FILE), encodeState(state));
    }
    // Only after the state is written, so a crash mid-migration migrates again.
    if (existsSync(join(dir, LEGACY_CURSOR_FILE))) unlinkSync(join(dir, LEGACY_CURSOR_FILE));
    this.trimToState(state.ends);
    this.adopt(state);
    this.nextSegment = Math.max(lastKey(state.ends) + 1, state.cursor.segment);
  }

  /** Bytes waiting to be replayed, counting appends under way. */
  get size(): number {
    return this.bytes + this.reserved;
  }
  get limit(): number {
    return this.opts.maxBytes;
  }
  isEmpty(): boolean {
    return this.size === 0;
  }

  pending(): Record<SourceKey, number> {
    return Object.fromEntries(this.counts);
  }

  append(record: SpoolRecord): Promise<void> {
    const buf = Buffer.from(JSON.stringify({ sources: record.sources, lines: record.lines }) + '\n', 'utf8');
    if (this.size + buf.length > this.opts.maxBytes) return Promise.reject(new SpoolFullError(this.size, this.opts.maxBytes));
    this.reserved += buf.length;
    return this.serially(async () => {
      try {
        await this.appendNow(buf, record.sources);
      } finally {
        this.reserved -= buf.length;
      }
    });
  }

  /**
   * Checks that the spool takes a durable write now, by writing its state file again (the same
   * path every append takes); rejects with the I/O error otherwise.
   */
  probe(): Promise<void> {
    return this.serially(() => this.saveState({ cursor: this.cursor, ends: this.ends, pending: this.counts }));
  }

  private async appendNow(buf: Buffer, sources: Record<SourceKey, number>): Promise<void> {
    const w = await this.writerFor(buf.length);
    const at = w.end;
    try {
      await writeFully(w.handle, buf, at);
      await w.handle.datasync();
      const ends = new Map(this.ends).set(w.segment, at + buf.length);
      const next = settle({ cursor: this.cursor, ends, pending: addCounts(this.counts, sources, 1) }).state;
      await this.saveState(next);
      w.end = at + buf.length;
      this.adopt(next);
    } catch (e) {
      await this.cutBack(w, at);
      throw e;
    }
  }

  /** The segment to append `length` bytes to: the current one, or a new one once it is full. */
  private async writerFor(length: number): Promise<Writer> {
    if (this.writer && (this.writer.end === 0 || this.writer.end + length <= this.opts.segmentBytes)) return this.writer;
    await this.closeWriter();
    // Taken before opening, so a segment that fails to open is never retried.
    const segment = this.nextSegment++;
    const handle = await this.open(join(this.dir, segName(segment)), 'w');
    try {
      await syncDir(this.dir); // the file must exist after a crash before the state names it
    } catch (e) {
      await handle.close().catch(() => {});
      throw e;
    }
    this.writer = { segment, handle, end: 0 };
    return this.writer;
  }

  /**
   * Undoes a failed append: cuts the segment back to its recorded end. When even that fails the
   * segment is given up (the reader never reads past its recorded end, start-up cuts the rest)
   * and the next append starts a new one.
   */
  private async cutBack(w: Writer, end: number): Promise<void> {
    try {
      await w.handle.truncate(end);
    } catch {
      if (this.writer === w) this.writer = undefined;
      await w.handle.close().catch(() => {});
    }
  }

  private async closeWriter(): Promise<void> {
    const w = this.writer;
    this.writer = undefined;
    await w?.handle.close().catch(() => {}); // its data is already fsync'd
  }

  /**
   * Up to `maxPoints` points of records from the cursor on, in order (at least one record),
   * without moving the cursor. Sees every append that has resolved.
   */
  async read(maxPoints: number): Promise<SpoolChunk | undefined> {
    const records: SpoolRecord[] = [];
    const counts = new Map<SourceKey, number>();
    let points = 0;
    const next = await this.scan(this.cursor, undefined, (rec) => {
      records.push(rec);
      addCountsInPlace(counts, rec.sources, 1);
      points += rec.lines.length;
      return points < maxPoints;
    });
    if (!records.length) return undefined;
    this.lastRead = { next, counts };
    return { records, next };
  }

  /** Everything before `next` is stored: moves the persisted cursor past it and drops finished segments. */
  commit(next: SpoolPosition): Promise<void> {
    return this.serially(async () => {
      if (samePosition(next, this.cursor)) return;
      this.checkCommittable(next);
      const counts = this.lastRead && samePosition(this.lastRead.next, next) ? this.lastRead.counts : await this.countUpTo(next);
      const { state, dropped } = settle({ cursor: { ...next }, ends: this.ends, pending: subtractCounts(this.counts, counts) });
      // Fully replayed up to the write segment: the next append starts a fresh one.
      if (this.writer && dropped.includes(this.writer.segment)) await this.closeWriter();
      await this.saveState(state);
      this.adopt(state);
      this.lastRead = undefined;
      await this.deleteSegments(dropped);
    });
  }

  async close(): Promise<void> {
    await this.queue;
    await this.closeWriter();
    await this.closeReader();
  }

  // Replay

  /**
   * Parses records from `from` on, segment by segment up to their recorded ends (or up to
   * `until`), handing each to `take` until it returns false. Returns the position after the last
   * record taken.
   */
  private async scan(from: SpoolPosition, until: SpoolPosition | undefined, take: (rec: SpoolRecord) => boolean): Promise<SpoolPosition> {
    let pos = { ...from };
    for (const [segment, recordedEnd] of this.ends) {
      if (segment < pos.segment) continue;
      if (until && segment > until.segment) break;
      if (segment > pos.segment) pos = { segment, offset: 0 };
      const end = until?.segment === segment ? until.offset : recordedEnd;
      const { offset, stopped } = await this.scanSegment(segment, pos.offset, end, take);
      pos.offset = offset;
      if (stopped) break;
    }
    return pos;
  }

  /** Parses the records in [from, end) of a segment with positioned reads of bounded chunks. */
  private async scanSegment(segment: number, from: number, end: number, take: (rec: SpoolRecord) => boolean): Promise<{ offset: number; stopped: boolean }> {
    if (from >= end) return { offset: from, stopped: false };
    const handle = await this.readerFor(segment);
    if (this.chunk.length === 0) this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let pos = from;
    while (pos < end) {
      const { bytesRead } = await handle.read(this.chunk, 0, Math.min(this.chunk.length, end - pos), pos);
      const { used, stopped } = takeRecords(this.chunk.subarray(0, bytesRead), take);
      pos += used;
      if (stopped) return { offset: pos, stopped };
      if (used > 0) continue;
      // Recorded ends always follow a whole record, so a line cut short here means damage.
      if (bytesRead < this.chunk.length) throw new Error(`spool segment ${segName(segment)}: no whole record at ${pos} before its recorded end ${end}`);
      this.chunk = Buffer.allocUnsafe(this.chunk.length * 2); // one record larger than a chunk
    }
    return { offset: pos, stopped: false };
  }

  /** The handle of the segment being replayed, kept open across reads until replay moves on. */
  private async readerFor(segment: number): Promise<FileHandle> {
    if (this.reader?.segment === segment) return this.reader.handle;
    await this.closeReader();
    const handle = await this.open(join(this.dir, segName(segment)), 'r');
    this.reader = { segment, handle };
    return handle;
  }

  private async closeReader(): Promise<void> {
    const r = this.reader;
    this.reader = undefined;
    await r?.handle.close().catch(() => {});
  }

  /** Per-source counts of the records between the cursor and `next` (a position not from the last read). */
  private async countUpTo(next: SpoolPosition): Promise<Map<SourceKey, number>> {
    const counts = new Map<SourceKey, number>();
    const reached = await this.scan(this.cursor, next, (rec) => {
      addCountsInPlace(counts, rec.sources, 1);
      return true;
    });
    if (!samePosition(reached, next)) throw new RangeError(`spool commit: ${JSON.stringify(next)} is not a record boundary`);
    return counts;
  }

  private checkCommittable(next: SpoolPosition): void {
    const end = this.ends.get(next.segment);
    const ahead = next.segment > this.cursor.segment || (next.segment === this.cursor.segment && next.offset >= this.cursor.offset);
    if (end === undefined || !ahead || next.offset > end) throw new RangeError(`spool commit: ${JSON.stringify(next)} is outside the spool (cursor ${JSON.stringify(this.cursor)})`);
  }

  private async deleteSegments(segments: number[]): Promise<void> {
    for (const segment of segments) {
      if (this.reader?.segment === segment) await this.closeReader();
      await unlink(join(this.dir, segName(segment))).catch(() => {}); // a leftover is deleted at start
    }
  }

  // State

  private adopt(state: SpoolState): void {
    this.cursor = state.cursor;
    this.ends = state.ends;
    this.counts = state.pending;
    this.bytes = liveBytes(state);
  }

  private saveState(state: SpoolState): Promise<void> {
    return writeFileDurably(join(this.dir, STATE_FILE), encodeState(state));
  }

  /** The state file, or undefined when there is none (a new or previous-format spool) or it is unreadable. */
  private loadState(): SpoolState | undefined {
    const file = join(this.dir, STATE_FILE);
    if (!existsSync(file)) return undefined;
    try {
      return decodeState(readFileSync(file, 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** Whether every recorded segment is there with at least its recorded length (stat only). */
  private filesHold(state: SpoolState): boolean {
    for (const [segment, end] of state.ends) {
      const file = join(this.dir, segName(segment));
      if (!existsSync(file) || statSync(file).size < end) return false;
    }
    return true;
  }

  /** The cursor of a previous-format spool, or the start. */
  private legacyCursor(): SpoolPosition {
    const file = join(this.dir, LEGACY_CURSOR_FILE);
    if (!existsSync(file)) return { segment: this.segmentFiles()[0] ?? 1, offset: 0 };
    const { segment, offset } = JSON.parse(readFileSync(file, 'utf8')) as SpoolPosition;
    return { segment, offset };
  }

  /**
   * Rebuilds the state by scanning the segments from `cursor` on, in chunks: the valid end of each
   * (its last whole record) and the points pending per source. Only for a previous-format spool
   * or one whose files no longer match its state.
   */
  private rebuildState(cursor: SpoolPosition): SpoolState {
    const ends = new Map<number, number>();
    const pending = new Map<SourceKey, number>();
    cursor = { ...cursor };
    for (const segment of this.segmentFiles()) {
      if (segment < cursor.segment) continue;
      const file = join(this.dir, segName(segment));
      if (segment === cursor.segment) cursor.offset = Math.min(cursor.offset, statSync(file).size);
      const from = segment === cursor.segment ? cursor.offset : 0;
      ends.set(segment, scanFileSync(file, from, (rec) => addCountsInPlace(pending, rec.sources, 1)));
    }
    return { cursor, ends, pending };
  }

  /** Cuts bytes past each recorded end (never acknowledged) and deletes segments the state does not know. */
  private trimToState(ends: Map<number, number>): void {
    for (const segment of this.segmentFiles()) {
      const file = join(this.dir, segName(segment));
      const end = ends.get(segment);
      if (end === undefined) unlinkSync(file);
      else if (statSync(file).size > end) truncateSync(file, end);
    }
  }

  private segmentFiles(): number[] {
    return readdirSync(this.dir)
      .map((f) => SEGMENT.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => {});
    return run;
  }
}

/**
 * Moves the cursor onto the first live segment and past segments replayed to their end, which
 * are dropped. With nothing left the cursor points past the last one, so the next append starts
 * a fresh segment.
 */
function settle(state: SpoolState): { state: SpoolState; dropped: number[] } {
  const ends = new Map(state.ends);
  const dropped: number[] = [];
  let cursor = state.cursor;
  for (const [segment, end] of state.ends) {
    if (segment > cursor.segment) cursor = { segment, offset: 0 };
    if (segment === cursor.segment && cursor.offset < end) break;
    ends.delete(segment);
    dropped.push(segment);
    if (segment === cursor.segment) cursor = { segment: segment + 1, offset: 0 };
  }
  // Nothing left: nothing waits, whatever damaged records could not tell about their points.
  const pending = ends.size === 0 ? new Map<SourceKey, number>() : state.pending;
  return { state: { cursor, ends, pending }, dropped };
}

function liveBytes(state: SpoolState): number {
  let bytes = 0;
  for (const end of state.ends.values()) bytes += end;
  return bytes - (state.ends.has(state.cursor.segment) ? state.cursor.offset : 0);
}

function lastKey(ends: Map<number, number>): number {
  let last = 0;
  for (const k of ends.keys()) last = Math.max(last, k);
  return last;
}

const samePosition = (a: SpoolPosition, b: SpoolPosition) => a.segment === b.segment && a.offset === b.offset;

function addCountsInPlace(into: Map<SourceKey, number>, sources: Record<SourceKey, number>, sign: 1 | -1): Map<SourceKey, number> {
  for (const [source, n] of Object.entries(sources)) {
    const left = (into.get(source) ?? 0) + sign * n;
    if (left > 0) into.set(source, left);
    else into.delete(source);
  }
  return into;
}

const addCounts = (counts: Map<SourceKey, number>, sources: Record<SourceKey, number>, sign: 1 | -1) => addCountsInPlace(new Map(counts), sources, sign);

function subtractCounts(counts: Map<SourceKey, number>, minus: Map<SourceKey, number>): Map<SourceKey, number> {
  return addCounts(counts, Object.fromEntries(minus), -1);
}

/**
 * Hands the records of the whole lines in `buf` to `take` until it returns false. Returns the
 * bytes consumed (up to the last newline taken) and whether `take` stopped.
 */
function takeRecords(buf: Buffer, take: (rec: SpoolRecord) => unknown): { used: number; stopped: boolean } {
  let used = 0;
  for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, used)) {
    const more = take(parseRecord(buf.toString('utf8', used, nl)));
    used = nl + 1;
    if (more === false) return { used, stopped: true };
  }
  return { used, stopped: false };
}

/**
 * One line of a segment as a record. A line damaged on disk does not stop replay: it comes back
 * as an `unreadable` record (no points), which the replayer dead-letters and moves past.
 */
function parseRecord(text: string): SpoolRecord {
  try {
    const rec = JSON.parse(text) as Partial<SpoolRecord>;
    if (rec && typeof rec.sources === 'object' && rec.sources !== null && Array.isArray(rec.lines) && rec.lines.every((l) => typeof l === 'string')) return rec as SpoolRecord;
  } catch {
    /* damaged: below */
  }
  return { sources: {}, lines: [], unreadable: text.slice(0, 4096) };
}

/** Scans a segment from `from` in bounded chunks; returns its valid end (after the last whole record). */
function scanFileSync(file: string, from: number, take: (rec: SpoolRecord) => void): number {
  const fd = openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let pos = from; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      const { used } = takeRecords(buf.subarray(0, n), (rec) => void take(rec));
      pos += used;
      if (n < buf.length) return pos; // end of file: what follows the last newline is a torn tail
      if (used === 0) buf = Buffer.allocUnsafe(buf.length * 2);
    }
  } finally {
    closeSync(fd);
  }
}

async function writeFully(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buf.length; ) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

function encodeState(state: SpoolState): string {
  return JSON.stringify({ version: 1, cursor: state.cursor, ends: Object.fromEntries(state.ends), pending: Object.fromEntries(state.pending) });
}

function decodeState(text: string): SpoolState {
  const raw = JSON.parse(text) as { version: number; cursor: SpoolPosition; ends: Record<string, number>; pending: Record<SourceKey, number> };
  if (raw.version !== 1) throw new Error(`unknown spool state version ${raw.version}`);
  const ends = new Map(Object.entries(raw.ends).map(([k, v]) => [Number(k), v] as [number, number]).sort((a, b) => a[0] - b[0]));
  return { cursor: { segment: raw.cursor.segment, offset: raw.cursor.offset }, ends, pending: new Map(Object.entries(raw.pending)) };
}

/** Replaces `file` atomically and durably: write a temp file, fsync, rename, fsync the dir. */
async function writeFileDurably(file: string, text: string): Promise<void> {
  const tmp = file + '.tmp';
  const handle = await openFile(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await syncDir(join(file, '..'));
}

function writeFileDurablySync(file: string, text: string): void {
  const tmp = file + '.tmp';
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dirFd = openSync(join(file, '..'), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await openFile(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
