import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { Point } from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import { configure } from 'safe-stable-stringify';
import { ConfigError } from '../core/errors.js';
import { packageRoot } from '../config/paths.js';
import { envValue } from '../config/env.js';
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
  /**
   * HMAC-SHA256 of `hash` under the log key (absent in logs written without a key). `hash`
   * covers every record before, so one valid MAC authenticates the whole chain up to it.
   */
  mac?: string;
}

/**
 * The head of the log at one moment: the head file holds the latest, and checkpoints (the same
 * shape) are sent off the host (InfluxDB, alert subscribers) so a log cut or rewritten by someone
 * holding the key is still caught by `verify --against`.
 */
export interface Checkpoint {
  n: number;
  hash: string;
  at: number;
  /** HMAC-SHA256 of "checkpoint\n{n}\n{hash}\n{at}" under the log key. */
  mac?: string;
}

export function recordHash(prev: string, r: Pick<LogRecord, 'n' | 'at' | 'event' | 'incident'>): string {
  return createHash('sha256').update(prev).update(canonical({ n: r.n, at: r.at, event: r.event, incident: r.incident })).digest('hex');
}

// Domain-separated, so a record's MAC cannot be reused as a head's or checkpoint's.
export const recordMac = (key: Buffer, hash: string): string => createHmac('sha256', key).update(`record\n${hash}`).digest('hex');
export const checkpointMac = (key: Buffer, c: Pick<Checkpoint, 'n' | 'hash' | 'at'>): string => createHmac('sha256', key).update(`checkpoint\n${c.n}\n${c.hash}\n${c.at}`).digest('hex');

function sameHex(a: unknown, b: string): boolean {
  return typeof a === 'string' && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** Line protocol of a checkpoint: measurement `incident_log_checkpoints`, at the checkpoint's time. */
export function checkpointLine(c: Checkpoint): string {
  const p = new Point('incident_log_checkpoints').intField('n', c.n).stringField('hash', c.hash);
  if (c.mac) p.stringField('mac', c.mac);
  return p.timestamp(new Date(c.at)).toLineProtocol()!;
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** The first problem found, naming the line and record. */
  problem?: string;
  line?: number;
  /** True when every record, the head (and the checkpoint) were checked against the key. */
  authenticated?: boolean;
}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * The append-only, hash-chained incident log (no concealment, regulation art. 77). Each record
 * carries the hash of the one before and, with a key, an HMAC of its hash; a head file holds the
 * count and hash of the last, so a record deleted (also at the end), reordered or altered is
 * detected by `verify`, which names it. Appends are fsync'd before they return.
 *
 * A failed append leaves the file as it was (the partial line is cut off, now or before the next
 * append) and throws; the caller retries. A failed head write does not fail the append (the log
 * is the record): `headError` says so until `retryHead` succeeds.
 */
export class IncidentLog {
  private fd?: number;
  private n = 0;
  private last = GENESIS;
  /** Bytes of whole records in the file: a failed append is cut back to this. */
  private good = 0;
  private cutNeeded = false;
  /** Why the head file could not be written, until it could. */
  headError?: string;

  constructor(readonly file: string, private readonly key?: Buffer, private readonly logger?: Logger) {}

  get headFile(): string {
    return `${this.file}.head`;
  }

  get records(): number {
    return this.n;
  }

  /** The current head, MAC'd with the key; `at` is when it is taken. */
  checkpoint(at: number): Checkpoint {
    const c: Checkpoint = { n: this.n, hash: this.last, at };
    if (this.key) c.mac = checkpointMac(this.key, c);
    return c;
  }

  /**
   * Reads every record (for restoring state), cuts a torn last line (a crash mid-write: bytes
   * after the last newline that do not parse) with a warning, and positions appends after the
   * last record. Throws when the log exists but cannot be read (the state cannot be rebuilt).
   */
  open(): LogRecord[] {
    mkdirSync(dirname(this.file), { recursive: true });
    let buf = Buffer.alloc(0);
    if (existsSync(this.file)) {
      // A device (e.g. a symlink to /dev/full) would be read forever.
      if (!statSync(this.file).isFile()) throw new Error(`incident log ${this.file} is not a regular file`);
      buf = readFileSync(this.file);
    }
    const end = buf.lastIndexOf(0x0a) + 1;
    if (end < buf.length) {
      const tail = buf.subarray(end).toString('utf8');
      let whole = false;
      try {
        JSON.parse(tail);
        whole = true;
      } catch {
        // torn
      }
      if (whole) writeFileSync(this.file, '\n', { flag: 'a' });
      else {
        const fd = openSync(this.file, 'r+');
        try {
          ftruncateSync(fd, end);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        this.logger?.warn({ file: this.file, offset: end, bytes: buf.length - end, dropped: tail.slice(0, 500) }, 'incident log: torn last line (a write cut short) dropped');
        buf = buf.subarray(0, end);
      }
    }
    const records = parseRecords(buf.toString('utf8'));
    const tail = records.at(-1);
    if (tail) {
      this.n = tail.n;
      this.last = tail.hash;
      if (this.key && tail.mac !== undefined && !sameHex(tail.mac, recordMac(this.key, tail.hash))) {
        this.logger?.error({ file: this.file, n: tail.n }, 'incident log: the last record does not match the log key (another key, or altered): run `jlpipe incidents verify`');
      }
    }
    this.good = this.size();
    this.reopen();
    return records;
  }

  private size(): number {
    return existsSync(this.file) ? statSync(this.file).size : 0;
  }

  private reopen(): void {
    const fd = openSync(this.file, 'a');
    try {
      if (!fstatSync(fd).isFile()) throw Object.assign(new Error(`incident log ${this.file} is not a regular file`), { code: 'ENOTREG' });
      const size = fstatSync(fd).size;
      if (size > this.good) ftruncateSync(fd, this.good); // a partial line of a failed append
      else if (size < this.good) {
        // Replaced or cut behind our back: never pad it with zeros; verify will tell.
        this.logger?.error({ file: this.file, expected: this.good, size }, 'incident log shorter than written: replaced or cut while open');
        this.good = size;
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.fd = fd;
    this.cutNeeded = false;
  }

  /** Appends one record, fsync'd; throws (leaving no partial line) when it cannot. */
  append(at: number, event: TimelineEntry['event'], incident: Incident): LogRecord {
    if (this.fd === undefined) this.reopen();
    const fd = this.fd!;
    const n = this.n + 1;
    const body = { n, at, event, incident };
    const rec: LogRecord = { ...body, prev: this.last, hash: recordHash(this.last, body) };
    if (this.key) rec.mac = recordMac(this.key, rec.hash);
    const line = Buffer.from(JSON.stringify(rec) + '\n');
    try {
      if (this.cutNeeded) ftruncateSync(fd, this.good);
      this.cutNeeded = true;
      for (let off = 0; off < line.length; ) off += writeSync(fd, line, off);
      fsyncSync(fd);
      this.cutNeeded = false;
    } catch (e) {
      try {
        ftruncateSync(fd, this.good);
        this.cutNeeded = false;
      } catch {
        // cut on reopen
      }
      // Reopened on the next append: a repaired or replaced file is picked up.
      this.fd = undefined;
      try {
        closeSync(fd);
      } catch {
        // already unusable
      }
      throw e;
    }
    this.good += line.length;
    this.n = n;
    this.last = rec.hash;
    this.retryHead(at);
    return rec;
  }

  /** Writes the head file (atomically); true when it is current. */
  retryHead(at: number): boolean {
    try {
      const tmp = `${this.headFile}.tmp`;
      writeFileSync(tmp, JSON.stringify(this.checkpoint(at)));
      renameSync(tmp, this.headFile);
      this.headError = undefined;
      return true;
    } catch (e) {
      this.headError = (e as Error).message;
      return false;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function parseRecords(text: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as LogRecord);
    } catch {
      // An altered line: verify reports it; restore skips it.
    }
  }
  return out;
}

/** Every readable record of a log file, in file order. */
export function readLogRecords(file: string): LogRecord[] {
  if (!existsSync(file) || !statSync(file).isFile()) return [];
  return parseRecords(readFileSync(file, 'utf8'));
}

export interface VerifyOptions {
  /** The log key: every record, the head and the checkpoint must carry its MAC. */
  key?: Buffer;
  /** A checkpoint kept off the host: the chain must reach its `n` with its `hash`. */
  against?: Checkpoint;
}

/**
 * Checks the chain of `file` and its head; names the first record that breaks it. Without a key,
 * anyone able to write the data dir can rewrite a consistent chain: only `against` (a checkpoint
 * kept elsewhere) still catches that, for the records it covers.
 */
export function verifyLog(file: string, opts: VerifyOptions = {}): VerifyResult {
  const { key, against } = opts;
  if (!existsSync(file)) return { ok: false, records: 0, problem: `${file} does not exist` };
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  let prev = GENESIS;
  let expected = 1;
  let macSeen = false;
  let lastMacd = true;
  let anchored: string | undefined;
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
    if (key) {
      if (r.mac !== undefined) {
        if (!sameHex(r.mac, recordMac(key, r.hash))) return fail('MAC does not match under the log key: rewritten without the key (or another key)');
        macSeen = true;
      } else if (macSeen) return fail('has no MAC after MAC\'d records: rewritten');
      lastMacd = r.mac !== undefined;
    }
    if (against && r.n === against.n) {
      if (r.hash !== against.hash) return fail(`does not match the checkpoint of ${new Date(against.at).toISOString()} (hash ${against.hash.slice(0, 16)}...): the log before it was rewritten`);
      anchored = r.hash;
    }
    prev = r.hash;
    expected++;
  }
  const records = expected - 1;
  if (key && records > 0 && !lastMacd) return { ok: false, records, line: records, problem: `last record n=${records} carries no MAC: the log cannot be authenticated (written without a key, or rewritten)` };
  if (against) {
    if (key && !sameHex(against.mac, checkpointMac(key, against))) return { ok: false, records, problem: `the checkpoint's MAC does not match under the log key: a forged checkpoint, or another key` };
    if (!anchored && against.n > 0) return { ok: false, records, line: records + 1, problem: `records ${records + 1}..${against.n} missing at the end (the checkpoint of ${new Date(against.at).toISOString()} says ${against.n}): cut` };
  }
  const headFile = `${file}.head`;
  if (existsSync(headFile)) {
    let head: Checkpoint;
    try {
      head = JSON.parse(readFileSync(headFile, 'utf8')) as Checkpoint;
    } catch {
      return { ok: false, records, problem: `${headFile} is not JSON: altered` };
    }
    if (head.n > records) return { ok: false, records, line: records + 1, problem: `records ${records + 1}..${head.n} missing at the end (the head says ${head.n}): deleted` };
    if (head.n === records && head.hash !== prev) return { ok: false, records, line: records, problem: `last record n=${records} does not match the head hash: altered` };
    if (key && macSeen && !sameHex(head.mac, checkpointMac(key, head))) return { ok: false, records, problem: `${headFile} has no valid MAC under the log key: rewritten` };
  } else if (records > 0) {
    return { ok: false, records, problem: `${headFile} is missing: cannot tell whether records were cut from the end` };
  }
  return key ? { ok: true, records, authenticated: true } : { ok: true, records };
}

/** Reads a checkpoint file: the checkpoint itself, or any JSON holding it as `checkpoint`. */
export function readCheckpoint(file: string): Checkpoint {
  const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<Checkpoint> & { checkpoint?: Checkpoint };
  const c = v.checkpoint ?? v;
  const at = typeof c.at === 'string' ? Date.parse(c.at) : c.at;
  if (typeof c.n !== 'number' || typeof c.hash !== 'string' || typeof at !== 'number' || Number.isNaN(at)) throw new Error(`${file}: not a checkpoint {n, hash, at, mac}`);
  return { n: c.n, hash: c.hash, at, mac: c.mac };
}

export const LOG_KEY_ENV = 'JL_INCIDENT_LOG_KEY';

/**
 * Where the log key lives: `incidents.logKeyFile` (relative to the config file's folder), by
 * default `incident-log.key` beside the config file (the project's config/ without one).
 */
export function logKeyFile(configFile: string | undefined, keyFile?: string): string {
  const base = configFile ? dirname(resolve(configFile)) : join(packageRoot(), 'config');
  return resolve(base, keyFile ?? 'incident-log.key');
}

function parseKey(hex: string, from: string): Buffer {
  if (!/^([0-9a-fA-F]{2}){16,}$/.test(hex)) throw new ConfigError(from, '', 'the incident log key must be at least 16 bytes of hex');
  return Buffer.from(hex, 'hex');
}

/**
 * The log key for a running pipeline: $JL_INCIDENT_LOG_KEY (hex; or the file $JL_INCIDENT_LOG_KEY_FILE names), else the key file, made (32
 * random bytes, hex, mode 0600) when missing. It must not live in the data dir: whoever can
 * rewrite the log must not also read the key there.
 */
export function loadLogKey(file: string, dataDir: string, env: NodeJS.ProcessEnv = process.env, logger?: Logger): Buffer {
  const fromEnv = envValue(env, LOG_KEY_ENV);
  if (fromEnv) return parseKey(fromEnv.trim(), LOG_KEY_ENV);
  const rel = relative(resolve(dataDir), file);
  if (!rel.startsWith('..') && !isAbsolute(rel)) throw new ConfigError(file, '/incidents/logKeyFile', `the incident log key must not be in the data dir (${dataDir})`);
  if (!existsSync(file)) {
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
      logger?.warn({ file }, 'incident log key generated: keep it (and a copy off the host); `jlpipe incidents verify` needs it');
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw new ConfigError(file, '/incidents/logKeyFile', `cannot create the incident log key (${(e as Error).message}): set ${LOG_KEY_ENV} or incidents.logKeyFile to a writable place outside the data dir`);
    }
  }
  if (statSync(file).mode & 0o077) logger?.warn({ file }, 'incident log key is readable by others: chmod 600');
  return parseKey(readFileSync(file, 'utf8').trim(), file);
}

/** The log key for checking only (never made): $JL_INCIDENT_LOG_KEY, else the file if it exists. */
export function readLogKey(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const fromEnv = envValue(env, LOG_KEY_ENV);
  if (fromEnv) return parseKey(fromEnv.trim(), LOG_KEY_ENV);
  if (!file || !existsSync(file)) return undefined;
  return parseKey(readFileSync(file, 'utf8').trim(), file);
}
