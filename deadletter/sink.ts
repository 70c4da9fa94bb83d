import { mkdirSync } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DeadLetterStore } from '../core/stores.js';
import type { Rejection } from '../core/types.js';
import { RecentDeadLetters } from './recent.js';
import { toDeadLetter, type DeadLetter } from './record.js';

/** Publishes a dead letter on the broker; best effort, the file is the durable copy. */
export type DeadLetterPublisher = (topic: string, body: string) => Promise<void>;

/**
 * The dead-letter store: JSON lines in `<dir>/dead-letters-YYYY-MM-DD.jsonl` (UTC day),
 * fsync'd before `write` resolves (the caller then counts them in the ledger), then published
 * to `jl/_dlq/{reason}` when a publisher is given. Calls may overlap; they are serialised.
 *
 * A failed write rejects with the I/O error and leaves the file as it was (cut back to its
 * size before the append); the handle is dropped and the directory and file are opened again
 * on the next call, so writes succeed again once the fault clears.
 */
export class DeadLetterSink implements DeadLetterStore {
  private handle?: FileHandle;
  private path = '';
  /** The open file does not end with '\n' (torn tail): the next append starts a fresh line. */
  private tornTail = false;
  private chain: Promise<unknown> = Promise.resolve();
  private ok = true;
  /** What the console shows: the last hour by minute and the latest letters. */
  readonly recent = new RecentDeadLetters();

  /**
   * Does not throw when `dir` cannot be created: `writable` is then false and each write tries
   * again.
   */
  constructor(
    readonly dir: string,
    private readonly payloadLimit: number,
    private readonly log: Logger,
    readonly publisher?: DeadLetterPublisher,
  ) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      this.ok = false;
      log.error({ dir, err: (e as Error).message }, 'dead-letter directory cannot be created');
    }
  }

  /** False after a failed write (or an unusable directory at start) until the next successful write. */
  get writable(): boolean {
    return this.ok;
  }

  write(rejections: Rejection[]): Promise<void> {
    const letters = rejections.map((r) => toDeadLetter(r, this.payloadLimit));
    const run = this.chain.then(() => this.append(letters));
    this.chain = run.catch(() => {});
    return run.then(() => {
      this.recent.add(letters);
      this.publish(letters);
    });
  }

  private async append(letters: DeadLetter[]): Promise<void> {
    const path = join(this.dir, `dead-letters-${new Date().toISOString().slice(0, 10)}.jsonl`);
    let size: number | undefined;
    try {
      let h = await this.fileFor(path);
      let st = await h.stat();
      if (st.nlink === 0) {
        // Unlinked under us (file or directory removed): letters written there would be lost.
        await this.drop();
        h = await this.fileFor(path);
        st = await h.stat();
      }
      size = st.size;
      const text = letters.map((l) => JSON.stringify(l) + '\n').join('');
      await h.write(this.tornTail ? '\n' + text : text);
      await h.datasync();
      this.tornTail = false;
      if (!this.ok) this.log.info({ path }, 'dead-letter store writable again');
      this.ok = true;
    } catch (e) {
      if (this.ok) this.log.error({ path, err: (e as Error).message }, 'dead-letter write failed');
      this.ok = false;
      await this.rollback(size);
      throw e;
    }
  }

  /** The open handle for `path`, (re)creating the directory and opening the file when needed. */
  private async fileFor(path: string): Promise<FileHandle> {
    if (this.handle && this.path === path) return this.handle;
    await this.drop();
    await mkdir(this.dir, { recursive: true });
    // a+: appends, and the last byte can be read to find a torn tail.
    const h = await open(path, 'a+');
    try {
      const { size } = await h.stat();
      this.tornTail = size > 0 && (await h.read(Buffer.alloc(1), 0, 1, size - 1)).buffer[0] !== 0x0a;
    } catch (e) {
      await h.close().catch(() => {});
      throw e;
    }
    this.handle = h;
    this.path = path;
    return h;
  }

  /** After a failed append: cut the file back to `size` (best effort), then drop the handle. */
  private async rollback(size: number | undefined): Promise<void> {
    const h = this.handle;
    if (h && size !== undefined) {
      try {
        await h.truncate(size);
        await h.datasync();
      } catch (e) {
        // The file may now end in a partial line: reopening checks its tail.
        this.log.warn({ path: this.path, err: (e as Error).message }, 'failed dead-letter append not cut back');
      }
    }
    await this.drop();
  }

  private async drop(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    this.path = '';
    this.tornTail = false;
    await h?.close().catch(() => {});
  }

  private publish(letters: DeadLetter[]): void {
    const publisher = this.publisher;
    if (!publisher) return;
    for (const l of letters) {
      Promise.resolve()
        .then(() => publisher(`jl/_dlq/${l.reason}`, JSON.stringify(l)))
        .catch((e: Error) => this.log.warn({ err: e.message }, 'dead letter not published (kept on disk)'));
    }
  }

  /** Waits for the writes under way, then closes the file. */
  async close(): Promise<void> {
    await this.chain;
    await this.drop();
  }
}
