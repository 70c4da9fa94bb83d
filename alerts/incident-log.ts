import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { configure } from 'safe-stable-stringify';
import type { Incident, TimelineEntry } from './incident.js';

const canonical = configure({ deterministic: true }) as (v: unknown) => string;
export const GENESIS = '0'.repeat(64);

/** One line of the incident log: an incident's whole state after one event. */
export interface LogRecord {
  /** 1, 2, 3, ... with no gaps. */
  n: number;
  at: number;
  event: TimelineEntry['event'];
  incident: Incident;
  /** Hash of the previous record (GENESIS for the first). */
  prev: string;
  /** sha256(prev + canonical JSON of {n, at, event, incident}). */
  hash: string;
}

export function recordHash(prev: string, r: Pick<LogRecord, 'n' | 'at' | 'event' | 'incident'>): string {
  return createHash('sha256').update(prev).update(canonical({ n: r.n, at: r.at, event: r.event, incident: r.incident })).digest('hex');
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** The first problem found, naming the line and record. */
  problem?: string;
  line?: number;
}

/**
 * The append-only, hash-chained incident log (no concealment, regulation art. 77). Each record
 * carries the hash of the one before, and a head file holds the count and hash of the last, so a
 * record deleted (also at the end), reordered or altered is detected by `verify`, which names it.
 * Appends are fsync'd before they return.
 */
export class IncidentLog {
  private fd?: number;
  private n = 0;
  private last = GENESIS;

  constructor(readonly file: string) {}

  get headFile(): string {
    return `${this.file}.head`;
  }

  /** Reads every record (for restoring state), and positions appends after the last. */
  open(): LogRecord[] {
    mkdirSync(dirname(this.file), { recursive: true });
    const records = readLogRecords(this.file);
    const tail = records.at(-1);
    if (tail) {
      this.n = tail.n;
      this.last = tail.hash;
    }
    this.fd = openSync(this.file, 'a');
    return records;
  }

  append(at: number, event: TimelineEntry['event'], incident: Incident): LogRecord {
    const n = this.n + 1;
    const body = { n, at, event, incident };
    const rec: LogRecord = { ...body, prev: this.last, hash: recordHash(this.last, body) };
    writeSync(this.fd!, JSON.stringify(rec) + '\n');
    fsyncSync(this.fd!);
    this.n = n;
    this.last = rec.hash;
    const tmp = `${this.headFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ n, hash: rec.hash }));
    renameSync(tmp, this.headFile);
    return rec;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Every readable record of a log file, in file order. */
export function readLogRecords(file: string): LogRecord[] {
  if (!existsSync(file)) return [];
  const out: LogRecord[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as LogRecord);
    } catch {
      // A torn last line after a crash: verify reports it; restore skips it.
    }
  }
  return out;
}

/** Checks the chain of `file` and its head; names the first record that breaks it. */
export function verifyLog(file: string): VerifyResult {
  if (!existsSync(file)) return { ok: false, records: 0, problem: `${file} does not exist` };
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  let prev = GENESIS;
  let expected = 1;
  for (const [i, line] of lines.entries()) {
    const ln = i + 1;
    let r: LogRecord;
    try {
      r = JSON.parse(line) as LogRecord;
    } catch {
      return { ok: false, records: i, line: ln, problem: `line ${ln}: not a JSON record (altered or torn)` };
    }
    const fail = (problem: string): VerifyResult => ({ ok: false, records: i, line: ln, problem: `line ${ln} (record n=${r.n}, incident ${r.incident?.id ?? '?'}): ${problem}` });
    if (typeof r.n !== 'number') return fail('has no record number: altered');
    if (r.n > expected) return fail(`record${r.n - expected > 1 ? `s ${expected}..${r.n - 1}` : ` ${expected}`} missing before it: deleted`);
    if (r.n < expected) return fail(`record number ${r.n} where ${expected} was due: reordered or duplicated`);
    if (r.prev !== prev) return fail('does not chain to the record before it: reordered or the one before was altered');
    if (recordHash(prev, r) !== r.hash) return fail('content does not match its hash: altered');
    prev = r.hash;
    expected++;
  }
  const records = expected - 1;
  const headFile = `${file}.head`;
  if (existsSync(headFile)) {
    const head = JSON.parse(readFileSync(headFile, 'utf8')) as { n: number; hash: string };
    if (head.n > records) return { ok: false, records, line: records + 1, problem: `records ${records + 1}..${head.n} missing at the end (the head says ${head.n}): deleted` };
    if (head.n === records && head.hash !== prev) return { ok: false, records, line: records, problem: `last record n=${records} does not match the head hash: altered` };
  } else if (records > 0) {
    return { ok: false, records, problem: `${headFile} is missing: cannot tell whether records were cut from the end` };
  }
  return { ok: true, records };
}
