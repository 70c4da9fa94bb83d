import { decodeEntries, type Check, type Entry } from './state.js';

/** Rows per chunk: a chunk is allocated whole, so at most one chunk per table is spare. */
const CHUNK_BITS = 10;
const CHUNK = 1 << CHUNK_BITS;

type Numbers = Float32Array | Float64Array;

/**
 * A table of fixed-width rows of numbers, one row per device, found by the device's slot in the
 * detection engine (`DetectInput.slot`: a small integer, stable while the device has state):
 * the state of a detector that is held for every device, kept in typed arrays of 1,024 rows
 * rather than as an object or array per device, and found by indexing an array rather than by
 * hashing a key. For 100,000 devices that is no heap object per device for the collector to
 * mark, and no hash lookup per processor per reading.
 *
 * `row(slot, at)` gives a row number; its numbers are `chunk(r)[offset(r) + 0 .. width - 1]`.
 * Rows expire like ExpiringState (untouched since `before`); a freed row is reused, so a new
 * row is set by `init` (or zeroed) before use. The engine frees a device's slot only after its
 * rows have expired (they are touched no later than the device) or been dropped.
 */
export class Rows<A extends Numbers = Float64Array> {
  private readonly chunks: A[] = [];
  /** Row of each device slot, -1 for none. */
  private rowOf = new Int32Array(CHUNK).fill(-1);
  /** By row: its device slot (-1: free) and touch time (event ms). */
  private slotOf = new Int32Array(CHUNK).fill(-1);
  private at = new Float64Array(CHUNK);
  private readonly free: number[] = [];
  private next = 0;
  private count = 0;

  constructor(
    readonly width: number,
    private readonly make: (n: number) => A,
  ) {}

  /** The row of device `slot`, created and set by `init` (zeroed without it) if absent; marks it touched at `at`. */
  row(slot: number, at: number, init?: (d: A, o: number) => void): number {
    let r = slot < this.rowOf.length ? this.rowOf[slot] : -1;
    if (r < 0) {
      r = this.allocate(slot);
      const d = this.chunk(r);
      const o = this.offset(r);
      // A loop: TypedArray#fill costs a runtime call, more than a few numbers do.
      for (let k = o; k < o + this.width; k++) d[k] = 0;
      init?.(d, o);
      this.at[r] = at;
    } else if (at > this.at[r]) this.at[r] = at;
    return r;
  }

  /** The row of device `slot` without touching it, undefined when absent. */
  peek(slot: number): number | undefined {
    const r = slot >= 0 && slot < this.rowOf.length ? this.rowOf[slot] : -1;
    return r < 0 ? undefined : r;
  }

  /** When the row was last touched (event ms). */
  touched(r: number): number {
    return this.at[r];
  }

  chunk(r: number): A {
    return this.chunks[r >>> CHUNK_BITS];
  }

  offset(r: number): number {
    return (r & (CHUNK - 1)) * this.width;
  }

  /** The row's numbers as a plain array (for snapshots). */
  values(r: number): number[] {
    const o = this.offset(r);
    return Array.from(this.chunk(r).subarray(o, o + this.width));
  }

  /** Sets the row of device `slot` to `values` (width numbers), touched at `at`. */
  set(slot: number, at: number, values: ArrayLike<number>): void {
    const r = this.row(slot, at);
    this.chunk(r).set(values, this.offset(r));
    this.at[r] = at;
  }

  /** Drops the row of device `slot`; `dropped` may read its numbers first. */
  delete(slot: number, dropped?: (slot: number, d: A, o: number) => void): void {
    const r = this.peek(slot);
    if (r === undefined) return;
    dropped?.(slot, this.chunk(r), this.offset(r));
    this.release(r);
  }

  /** Drops the rows untouched since `before`; `dropped` may read each one's numbers first. */
  expire(before: number, dropped?: (slot: number, d: A, o: number) => void): void {
    for (let r = 0; r < this.next; r++) {
      if (this.slotOf[r] < 0 || this.at[r] >= before) continue;
      dropped?.(this.slotOf[r], this.chunk(r), this.offset(r));
      this.release(r);
    }
  }

  get size(): number {
    return this.count;
  }

  /** The device slots holding a row. */
  *slots(): IterableIterator<number> {
    for (let r = 0; r < this.next; r++) if (this.slotOf[r] >= 0) yield this.slotOf[r];
  }

  private release(r: number): void {
    this.rowOf[this.slotOf[r]] = -1;
    this.slotOf[r] = -1;
    this.free.push(r);
    this.count--;
  }

  private allocate(slot: number): number {
    let r = this.free.pop();
    if (r === undefined) {
      r = this.next++;
      if (r >>> CHUNK_BITS >= this.chunks.length) this.chunks.push(this.make(CHUNK * this.width));
      if (r >= this.slotOf.length) {
        this.slotOf = grow(this.slotOf, r, -1);
        this.at = grow(this.at, r, 0);
      }
    }
    if (slot >= this.rowOf.length) this.rowOf = grow(this.rowOf, slot, -1);
    this.rowOf[slot] = r;
    this.slotOf[r] = slot;
    this.count++;
    return r;
  }
}

/** A copy of `a` long enough for index `i` (at least twice as long: the copies add up to O(n)), the new part filled with `fill`. */
function grow<T extends Int32Array | Float64Array>(a: T, i: number, fill: number): T {
  const b = new (a.constructor as new (n: number) => T)(Math.max((Math.floor(i / CHUNK) + 1) * CHUNK, 2 * a.length));
  b.set(a);
  b.fill(fill, a.length);
  return b;
}

/**
 * Row tables by measurement (a device's row in each measurement it sends), with the
 * detector's `snapshot` and `restore`: entries keyed by measurement, each the JSON form that
 * `encode` gives a row and `decode` checks and turns back into the row's numbers.
 */
export class RowsByMeasurement<A extends Numbers = Float64Array> {
  readonly tables = new Map<string, Rows<A>>();

  constructor(
    /** Width of a measurement's rows; 0: the measurement keeps no state. */
    private readonly widthOf: (measurement: string) => number,
    private readonly make: (n: number) => A,
  ) {}

  /** The table of `measurement`, undefined when it keeps no state. */
  of(measurement: string): Rows<A> | undefined {
    let t = this.tables.get(measurement);
    if (!t) {
      const w = this.widthOf(measurement);
      if (w <= 0) return undefined;
      this.tables.set(measurement, (t = new Rows(w, this.make)));
    }
    return t;
  }

  expire(before: number, dropped?: (slot: number, d: A, o: number) => void): void {
    for (const t of this.tables.values()) t.expire(before, dropped);
  }

  /** Devices with a row in any measurement. */
  get size(): number {
    if (this.tables.size <= 1) return [...this.tables.values()][0]?.size ?? 0;
    const slots = new Set<number>();
    for (const t of this.tables.values()) for (const s of t.slots()) slots.add(s);
    return slots.size;
  }

  snapshot(slot: number, encode: (row: number[], measurement: string) => unknown): Entry[] | undefined {
    const out: Entry[] = [];
    for (const [m, t] of this.tables) {
      const r = t.peek(slot);
      if (r !== undefined) out.push([m, t.touched(r), encode(t.values(r), m)]);
    }
    return out.length ? out : undefined;
  }

  /**
   * Replaces the device's rows by decoded entries; `decode` gives a row of the measurement's
   * width, or undefined when malformed. `dropped` sees each row replaced, as on expiry.
   */
  restore(slot: number, snap: unknown, decode: Check<number[]>, dropped?: (slot: number, d: A, o: number) => void): void {
    // A measurement the current config keeps no state for restores as none (an empty row).
    const entries = snap === undefined ? [] : decodeEntries(snap, (j, m) => {
      const w = this.widthOf(m);
      if (w <= 0) return [];
      const row = decode(j, m);
      return row && row.length === w ? row : undefined;
    });
    for (const t of this.tables.values()) t.delete(slot, dropped);
    for (const [m, at, row] of entries) if (row.length) this.of(m)!.set(slot, at, row);
  }
}
