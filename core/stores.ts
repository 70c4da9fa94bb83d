/**
 * The durable stores and the output the delivery runtime writes through. Contracts only: the
 * implementations (files, InfluxDB) live in `storage/` and `deadletter/`; the runtime in
 * `core/runtime/` owns when they are called, retries and the ledger.
 */
import type { Reading, Rejection, SourceKey } from './types.js';

/**
 * An output turns readings into its wire form and writes batches of it (InfluxDB line
 * protocol today). It only writes and reports; batching, retries, the spool, dead letters and
 * acknowledgements belong to the runtime.
 */
export interface Output {
  readonly name: string;
  /**
   * The wire form of one reading. Throws for a reading that can never be written (a poison
   * record, e.g. a value the format cannot carry); the runtime dead-letters that reading alone.
   */
  encode(reading: Reading): string;
  /**
   * Writes encoded lines; resolves once the destination has durably taken every line. Calls may
   * overlap. Rejects with an OutputError (core/errors.ts) saying whether the same lines may
   * succeed later (`retriable`) and, when the destination named them, which lines it refused.
   */
  write(lines: string[]): Promise<void>;
}

/** One spooled batch: its encoded lines and how many points of each source it holds. */
export interface SpoolRecord {
  sources: Record<SourceKey, number>;
  lines: string[];
  /**
   * Set (and `sources`/`lines` empty) when the spool could not read the record back (damaged on
   * disk): its raw text, cut to a few KiB, for the dead letters.
   */
  unreadable?: string;
}

/** A position in the spool: a segment and a byte offset inside it. */
export interface SpoolPosition {
  segment: number;
  offset: number;
}

export interface SpoolChunk {
  records: SpoolRecord[];
  /** Pass to `commit` once these records are stored. */
  next: SpoolPosition;
}

/**
 * The durable spool: where batches go while the output is unavailable, replayed in order.
 * One appender and one replayer may run at the same time.
 */
export interface SpoolStore {
  /** Bytes waiting to be replayed. */
  readonly size: number;
  readonly limit: number;
  isEmpty(): boolean;
  /** Points waiting per source; known without reading the spool (persisted beside the cursor). */
  pending(): Record<SourceKey, number>;
  /**
   * Appends durably (fsync'd) before resolving. Rejects with SpoolFullError when the record
   * would pass the bound, or with the I/O error; a failed append leaves nothing behind, and a
   * later append may succeed once the fault clears.
   */
  append(record: SpoolRecord): Promise<void>;
  /** Up to `maxPoints` points of records from the cursor on, in order; undefined when empty. */
  read(maxPoints: number): Promise<SpoolChunk | undefined>;
  /** Everything before `next` is stored: moves the persisted cursor past it. */
  commit(next: SpoolPosition): Promise<void>;
  /** Checks that the spool's directory takes a durable write now (after a failure). */
  probe?(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The dead-letter store. `write` resolves once every letter is durable (fsync'd); it rejects
 * with the I/O error otherwise, having kept none of them, and a later call may succeed once the
 * fault clears. Calls may overlap (the store serialises them).
 */
export interface DeadLetterStore {
  write(rejections: Rejection[]): Promise<void>;
  close(): Promise<void>;
}
