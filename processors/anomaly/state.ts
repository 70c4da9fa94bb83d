import { GRADE_RANK, type CatalogueView, type Grade } from '../../core/catalogue.js';
import type { Anomaly, DetectInput } from '../../core/anomaly.js';
import type { Rejection } from '../../core/types.js';
import { eventTimeMs } from '../wire-payload.js';
import { parseTopic } from '../../core/topic.js';

/**
 * Per-key state that expires: each entry remembers the newest event time that touched it, and
 * `expire(before)` drops the entries untouched since then. This is what bounds a detector's
 * memory when devices go silent for good.
 *
 * Compact, since it holds an entry per device (or device and measurement) in every processor:
 * a key maps to a slot number (a small integer, not an object), the values sit in an array and
 * the touch times in a Float64Array by slot, and freed slots are reused. An entry costs its Map
 * entry and 12 bytes, with no wrapper object or boxed number per entry; the key strings are the
 * caller's (the engine passes one string per device and measurement that every processor shares).
 */
export class ExpiringState<T> {
  private readonly slots = new Map<string, number>();
  private values: (T | undefined)[] = [];
  private at = new Float64Array(16);
  private readonly free: number[] = [];
  /** Device -> its `device|…` keys; built on the first snapshot, so only users of snapshots pay for it. */
  private byDevice?: Map<string, string[]>;

  /** The state of `key`, created by `init` if absent; marks it touched at `at` (event ms). */
  get(key: string, at: number, init: () => T): T {
    const i = this.slots.get(key);
    if (i === undefined) {
      const s = init();
      this.add(key, s, at);
      return s;
    }
    if (at > this.at[i]) this.at[i] = at;
    return this.values[i]!;
  }

  /** The touch time `key` had before the last `touch` (NaN: it was new). */
  previous = NaN;

  /**
   * Touches `key` at `at` (keeping the newest time), adding it with `value` if absent, and returns
   * its slot: a small integer, stable until the key is deleted or expires, that callers may index
   * their own arrays by (rows.ts). The time it had before is left in `previous`. One lookup.
   */
  touch(key: string, at: number, value: T): number {
    let i = this.slots.get(key);
    if (i === undefined) {
      this.previous = NaN;
      i = this.add(key, value, at);
    } else {
      this.previous = this.at[i];
      if (at > this.at[i]) this.at[i] = at;
    }
    return i;
  }

  /** The slot of `key` (see `touch`), undefined when absent. */
  slotOf(key: string): number | undefined {
    return this.slots.get(key);
  }

  set(key: string, value: T, at: number): void {
    const i = this.slots.get(key);
    if (i === undefined) this.add(key, value, at);
    else {
      this.values[i] = value;
      this.at[i] = at;
    }
  }

  peek(key: string): T | undefined {
    const i = this.slots.get(key);
    return i === undefined ? undefined : this.values[i];
  }

  /** The event time that last touched `key`, undefined when absent. */
  touched(key: string): number | undefined {
    const i = this.slots.get(key);
    return i === undefined ? undefined : this.at[i];
  }

  delete(key: string): void {
    const i = this.slots.get(key);
    if (i === undefined) return;
    this.slots.delete(key);
    this.values[i] = undefined;
    this.free.push(i);
    this.unindex(key);
  }

  /** Drops the entries untouched since `before`, telling `dropped` of each. */
  expire(before: number, dropped?: (key: string, value: T) => void): void {
    for (const [k, i] of this.slots) {
      if (this.at[i] >= before) continue;
      const v = this.values[i]!;
      this.delete(k);
      dropped?.(k, v);
    }
  }

  get size(): number {
    return this.slots.size;
  }

  /** Every entry: key, state, touch time (event ms). */
  *entries(): IterableIterator<[key: string, state: T, at: number]> {
    for (const [k, i] of this.slots) yield [k, this.values[i]!, this.at[i]];
  }

  private add(key: string, value: T, at: number): number {
    let i = this.free.pop();
    if (i === undefined) {
      i = this.values.length;
      this.values.push(value);
      if (i >= this.at.length) {
        const grown = new Float64Array(this.at.length * 2);
        grown.set(this.at);
        this.at = grown;
      }
    } else this.values[i] = value;
    this.at[i] = at;
    this.slots.set(key, i);
    this.index(key);
    return i;
  }

  /** Keys of `device`: the key `device` itself and the `device|…` ones (not region keys). */
  keysOf(device: string): string[] {
    if (!this.byDevice) {
      this.byDevice = new Map();
      for (const k of this.slots.keys()) this.index(k);
    }
    const keys = this.byDevice.get(device) ?? [];
    return this.slots.has(device) ? [device, ...keys] : [...keys];
  }

  /**
   * The entries of `device` with their touch times, undefined when it has none. Keys are given
   * relative to the device ('' for the key `device`), so a restore can only write its own keys.
   */
  snapshot(device: string, encode: (v: T, key: string) => unknown = (v) => structuredClone(v)): Entry[] | undefined {
    const out: Entry[] = [];
    for (const k of this.keysOf(device)) {
      const i = this.slots.get(k)!;
      const rel = k.slice(device.length + 1);
      out.push([rel, this.at[i], encode(this.values[i]!, rel)]);
    }
    return out.length ? out : undefined;
  }

  /** Replaces the entries of `device` by decoded snapshot entries (see `decodeEntries`). */
  restore(device: string, entries: [string, number, T][]): void {
    for (const k of this.keysOf(device)) this.delete(k);
    for (const [rel, at, v] of entries) this.set(rel === '' ? device : `${device}|${rel}`, v, at);
  }

  private index(key: string): void {
    if (!this.byDevice) return;
    const i = key.indexOf('|');
    if (i < 0) return;
    const dev = key.slice(0, i);
    const keys = this.byDevice.get(dev);
    if (keys) keys.push(key);
    else this.byDevice.set(dev, [key]);
  }

  private unindex(key: string): void {
    if (!this.byDevice) return;
    const i = key.indexOf('|');
    if (i < 0) return;
    const dev = key.slice(0, i);
    const keys = this.byDevice.get(dev)?.filter((k) => k !== key);
    if (keys?.length) this.byDevice.set(dev, keys);
    else this.byDevice.delete(dev);
  }
}

/** One snapshotted entry: key (relative to the device, or a vehicle id), touch time, state. */
export type Entry = [key: string, at: number, state: unknown];

/** Checks and copies a value from JSON: undefined when it is malformed. */
export type Check<T> = (j: unknown, key: string) => T | undefined;

export const isNum: Check<number> = (j) => (typeof j === 'number' && Number.isFinite(j) ? j : undefined);
export const isStr: Check<string> = (j) => (typeof j === 'string' ? j : undefined);
export const isBool: Check<boolean> = (j) => (typeof j === 'boolean' ? j : undefined);
export const isGrade: Check<Grade> = (j) => (typeof j === 'string' && Object.hasOwn(GRADE_RANK, j) ? (j as Grade) : undefined);
const isObj = (j: unknown): j is Record<string, unknown> => typeof j === 'object' && j !== null && !Array.isArray(j);

/** An object with exactly the checked fields (others are dropped). */
export function obj<T>(spec: { [K in keyof T]: Check<T[K]> }): Check<T> {
  return (j, key) => {
    if (!isObj(j)) return undefined;
    const out = {} as T;
    for (const f of Object.keys(spec) as (keyof T & string)[]) {
      const v = spec[f](j[f], key);
      if (v === undefined) return undefined;
      out[f] = v;
    }
    return out;
  };
}

/** A record of checked values (field name -> value). */
export function rec<T>(of: Check<T>): Check<Record<string, T>> {
  return (j, key) => {
    if (!isObj(j)) return undefined;
    const out: Record<string, T> = {};
    for (const [f, x] of Object.entries(j)) {
      const v = of(x, key);
      if (v === undefined || f === '__proto__') return undefined;
      out[f] = v;
    }
    return out;
  };
}

/** Thrown by a detector's `restore` for a malformed snapshot. */
export class SnapshotError extends Error {}

/** Decodes snapshot entries, all or nothing: throws SnapshotError on anything malformed. */
export function decodeEntries<T>(snap: unknown, check: Check<T>): [string, number, T][] {
  if (!Array.isArray(snap)) throw new SnapshotError('snapshot is not a list of entries');
  return snap.map((e: unknown) => {
    if (!Array.isArray(e) || e.length !== 3 || typeof e[0] !== 'string' || typeof e[1] !== 'number' || !Number.isFinite(e[1])) throw new SnapshotError('malformed entry');
    const [key, at] = e as [string, number];
    const v = check(e[2], key);
    if (v === undefined) throw new SnapshotError(`malformed state of ${key || 'the device'}`);
    return [key, at, v];
  });
}

/**
 * `snapshot` and `restore` of a detector whose per-device state is one ExpiringState keyed by
 * `device` or `device|…`. `encode` turns a non-JSON value (a Float64Array) into JSON; it gets
 * the key relative to the device too (the measurement, for state laid out by measurement).
 */
export function perDevice<T>(state: ExpiringState<T>, check: Check<T>, encode?: (v: T, key: string) => unknown): { snapshot: (device: string) => unknown; restore: (device: string, snap: unknown) => void } {
  return {
    snapshot: (device) => state.snapshot(device, encode),
    restore: (device, snap) => state.restore(device, snap === undefined ? [] : decodeEntries(snap, check)),
  };
}

/** What detectors may look up: swapped as a whole on hot reload, so read it on each call. */
export type DetectorContext = CatalogueView;

type Found = Pick<Anomaly, 'detector' | 'kind' | 'category' | 'detail'> & Partial<Anomaly>;

/** An anomaly about the device of a reading, tagged from its catalogue entry and registry record. */
export function anomalyOf(i: DetectInput, a: Found): Anomaly {
  return {
    baseLevel: 4,
    sector: i.device.sector,
    region: i.device.region,
    device: i.device.id,
    code: i.entry.code,
    grade: i.entry.grade,
    criticalInfrastructure: i.device.criticalInfrastructure,
    eventMs: i.reading.eventMs,
    ...a,
  };
}

/**
 * An anomaly about the sender of a rejected message. The topic names the claimed device; the
 * catalogue entry of its sector and type gives the grade (an unknown device claiming to send
 * important data is graded as important). Undefined when the topic is unparsable.
 */
export function anomalyOfRejection(ctx: DetectorContext, r: Rejection, a: Found): Anomaly | undefined {
  const parts = parseTopic(r.topic);
  if (typeof parts === 'string') return undefined;
  const entry = ctx.catalogue().byType.get(`${parts.sector}/${parts.messageType}`);
  const device = ctx.registry().get(parts.device);
  return {
    baseLevel: 4,
    sector: parts.sector,
    region: parts.region,
    device: parts.device,
    code: entry?.code,
    grade: entry?.grade ?? 'general',
    criticalInfrastructure: device?.criticalInfrastructure ?? false,
    eventMs: claimedTime(r),
    ...a,
  };
}

/**
 * Event time of a rejected message: its own `ts` when it has a plausible one (so detections
 * line up with the readings around them), else the arrival time (also for future timestamps).
 */
function claimedTime(r: Rejection): number {
  if (r.signal?.kind === 'future_ts' || r.reason === 'invalid_json' || r.reason === 'payload_too_large') return r.receivedAt;
  try {
    const ts = (JSON.parse(r.payload.toString('utf8')) as { ts?: unknown }).ts;
    const t = typeof ts === 'string' || typeof ts === 'number' ? eventTimeMs(ts) : NaN;
    return Number.isFinite(t) && t <= r.receivedAt ? t : r.receivedAt;
  } catch {
    return r.receivedAt;
  }
}

/** Numeric value of a reading's field, or undefined. */
export function num(i: DetectInput, field: string): number | undefined {
  const f = i.reading.fields[field];
  return f && typeof f.value === 'number' ? f.value : undefined;
}
