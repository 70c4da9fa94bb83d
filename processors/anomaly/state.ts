import type { CatalogueView } from '../../core/catalogue.js';
import type { Anomaly, DetectInput } from '../../core/anomaly.js';
import type { Rejection } from '../../core/types.js';
import { eventTimeMs } from '../wire-payload.js';
import { parseTopic } from '../../core/topic.js';

/**
 * Per-key state that expires: each entry remembers the newest event time that touched it, and
 * `expire(before)` drops the entries untouched since then. This is what bounds a detector's
 * memory when devices go silent for good.
 */
export class ExpiringState<T> {
  private readonly map = new Map<string, { s: T; at: number }>();

  /** The state of `key`, created by `init` if absent; marks it touched at `at` (event ms). */
  get(key: string, at: number, init: () => T): T {
    let e = this.map.get(key);
    if (!e) {
      e = { s: init(), at };
      this.map.set(key, e);
    } else if (at > e.at) e.at = at;
    return e.s;
  }

  set(key: string, value: T, at: number): void {
    this.map.set(key, { s: value, at });
  }

  peek(key: string): T | undefined {
    return this.map.get(key)?.s;
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  expire(before: number): void {
    for (const [k, e] of this.map) if (e.at < before) this.map.delete(k);
  }

  get size(): number {
    return this.map.size;
  }

  entries(): IterableIterator<[string, { s: T; at: number }]> {
    return this.map.entries();
  }
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
