import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Rejection } from '../core/types.js';
import { toDeadLetter, type DeadLetter } from './record.js';

/** Publishes a dead letter on the broker; best effort, the file is the durable copy. */
export type DeadLetterPublisher = (topic: string, body: string) => Promise<void>;

/**
 * The dead-letter store: JSON lines in `<dir>/dead-letters-YYYY-MM-DD.jsonl` (UTC day),
 * fsync'd before `write` resolves (the caller then counts them in the ledger), then published to `jl/_dlq/{reason}` when a publisher is set.
 * Calls may overlap; they are serialised.
 */
export class DeadLetterSink {
  private handle?: FileHandle;
  private day = '';
  private chain: Promise<unknown> = Promise.resolve();
  publisher?: DeadLetterPublisher;

  constructor(
    readonly dir: string,
    private readonly payloadLimit: number,
    private readonly log: Logger,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  write(rejections: Rejection[]): Promise<void> {
    const letters = rejections.map((r) => toDeadLetter(r, this.payloadLimit));
    const run = this.chain.then(() => this.append(letters));
    this.chain = run.catch(() => {});
    return run.then(() => this.publish(letters));
  }

  private async append(letters: DeadLetter[]): Promise<void> {
    const day = new Date().toISOString().slice(0, 10);
    if (day !== this.day || !this.handle) {
      await this.handle?.close();
      this.handle = await open(join(this.dir, `dead-letters-${day}.jsonl`), 'a');
      this.day = day;
    }
    await this.handle.write(letters.map((l) => JSON.stringify(l) + '\n').join(''));
    await this.handle.datasync();
  }

  private publish(letters: DeadLetter[]): void {
    if (!this.publisher) return;
    for (const l of letters) {
      this.publisher(`jl/_dlq/${l.reason}`, JSON.stringify(l)).catch((e: Error) => this.log.warn({ err: e.message }, 'dead letter not published (kept on disk)'));
    }
  }

  async close(): Promise<void> {
    await this.chain;
    await this.handle?.close();
    this.handle = undefined;
  }
}
