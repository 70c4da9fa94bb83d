import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { redactUrls } from './egress.js';

/**
 * One alert waiting for delivery to one subscription. It names the subscription, never its
 * destination: webhook URLs may carry credentials and stay in the subscription store only.
 */
export interface OutboxEntry {
  /** Idempotency key: `{incident}:{log record n}:{subscription}`; the receiver dedupes on it. */
  id: string;
  subscription: string;
  /** The JSON body, exactly as it is sent (and signed) on every attempt. */
  body: string;
  /** Written by older versions only; the MQTT topic is derived from the body at delivery. */
  topic?: string;
  createdAt: number;
  attempts: number;
  dueAt: number;
  lastError?: string;
}

type JournalLine = { op: 'add'; e: OutboxEntry } | { op: 'done'; id: string } | { op: 'drop'; id: string; reason: string } | { op: 'retry'; id: string; attempts: number; dueAt: number; lastError: string };

/**
 * The durable outbox: a journal of alerts added, retried, delivered or dropped. An alert is
 * fsync'd here before the incident change that caused it is considered handled, so a crash or
 * restart loses none (delivery is at least once). The journal is compacted when it holds mostly
 * finished entries.
 */
export class Outbox {
  private readonly pending = new Map<string, OutboxEntry>();
  private fd: number;
  private lines = 0;
  delivered = 0;
  dropped = 0;

  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    if (existsSync(file)) {
      for (const raw of readFileSync(file, 'utf8').split('\n')) {
        if (!raw) continue;
        let l: JournalLine;
        try {
          l = JSON.parse(raw) as JournalLine;
        } catch {
          continue; // torn tail after a crash
        }
        this.lines++;
        if (l.op === 'add') this.pending.set(l.e.id, l.e);
        else if (l.op === 'retry') Object.assign(this.pending.get(l.id) ?? {}, { attempts: l.attempts, dueAt: l.dueAt, lastError: l.lastError });
        else this.pending.delete(l.id);
      }
    }
    this.fd = openSync(file, 'a');
  }

  private write(l: JournalLine, sync: boolean): void {
    writeSync(this.fd, JSON.stringify(l) + '\n');
    if (sync) fsyncSync(this.fd);
    this.lines++;
  }

  add(e: OutboxEntry): void {
    if (this.pending.has(e.id)) return;
    this.write({ op: 'add', e }, true);
    this.pending.set(e.id, e);
  }

  done(id: string): void {
    if (!this.pending.delete(id)) return;
    this.delivered++;
    this.write({ op: 'done', id }, false);
    this.compact();
  }

  drop(id: string, reason: string): void {
    if (!this.pending.delete(id)) return;
    this.dropped++;
    this.write({ op: 'drop', id, reason: redactUrls(reason) }, true);
    this.compact();
  }

  retry(id: string, dueAt: number, lastError: string): void {
    const e = this.pending.get(id);
    if (!e) return;
    e.attempts++;
    e.dueAt = dueAt;
    e.lastError = redactUrls(lastError); // error texts may quote a URL: never its credentials
    this.write({ op: 'retry', id, attempts: e.attempts, dueAt, lastError: e.lastError }, false);
  }

  due(now: number): OutboxEntry[] {
    return [...this.pending.values()].filter((e) => e.dueAt <= now);
  }

  get size(): number {
    return this.pending.size;
  }

  entries(): OutboxEntry[] {
    return [...this.pending.values()];
  }

  /** Rewrites the journal with only pending entries once it is mostly finished ones. */
  private compact(): void {
    if (this.lines < 1000 || this.lines < 4 * this.pending.size) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, [...this.pending.values()].map((e) => JSON.stringify({ op: 'add', e }) + '\n').join(''));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.file);
    closeSync(this.fd);
    this.fd = openSync(this.file, 'a');
    this.lines = this.pending.size;
  }

  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}
