/**
 * The records the roles exchange (SPEC 8), as JSON: a reading on `jl.readings` keyed by device;
 * a rejection notice beside the readings (header `kind: rejection`), so the worker that owns the
 * claimed device sees it (forgery, replay and range detectors judge refusals too); a dead letter
 * on `jl.dlq`. Pure, no I/O.
 */
import { parseTopic } from '../core/topic.js';
import type { Outcome, RawMessage, Reading, Rejection, RejectReason } from '../core/types.js';

export const KIND_HEADER = 'kind';
export const TOPIC_HEADER = 'topic';
/** The wire contract v2 signature of a `jl.ingest` record (hex), as the MQTT 5 user property `sig`. */
export const SIG_HEADER = 'sig';

/**
 * A `jl.ingest` record as the message it stands for: the MQTT-style topic and the v2 signature
 * from its headers, the value as the payload bytes. A record whose header names no topic is
 * judged like an MQTT message with an empty topic: a bad_topic dead letter.
 */
export function ingestRecordToMessage(m: { value?: Buffer | null; headers?: { [k: string]: string | Buffer }[] }, receivedAt = Date.now()): RawMessage {
  const sig = headerOf(m.headers, SIG_HEADER);
  return { topic: headerOf(m.headers, TOPIC_HEADER) ?? '', payload: m.value ?? Buffer.alloc(0), receivedAt, ...(sig !== undefined ? { sig } : {}) };
}

/** The key a rejection notice goes by: the device its topic claims, else its source. */
export function rejectionKey(r: Rejection): string {
  const parts = parseTopic(r.topic);
  return typeof parts === 'string' ? r.source : parts.device;
}

export function rejectionNotice(r: Rejection): Buffer {
  return Buffer.from(JSON.stringify({ ...r, payload: r.payload.toString('base64') }));
}

export function rejectionFromNotice(value: Buffer): Rejection | undefined {
  try {
    const o = JSON.parse(value.toString('utf8')) as Rejection & { payload: string };
    if (typeof o.topic !== 'string' || typeof o.reason !== 'string' || typeof o.payload !== 'string') return undefined;
    return { ...o, payload: Buffer.from(o.payload, 'base64') };
  } catch {
    return undefined;
  }
}

const FIELD_TYPES = new Set(['float', 'integer', 'string', 'boolean']);

/**
 * A record of `jl.readings` as the worker's flow outcome: the reading the gateway validated, or
 * a rejection when the record is not one (a poison record: dead-lettered, never retried).
 */
export function readingFromRecord(msg: RawMessage): Outcome {
  const reject = (reason: RejectReason, detail: string): Outcome => ({ ok: false, rejection: { source: '_invalid/_/_', reason, detail, topic: msg.topic, payload: msg.payload, receivedAt: msg.receivedAt } });
  let r: Reading;
  try {
    r = JSON.parse(msg.payload.toString('utf8')) as Reading;
  } catch (e) {
    return reject('invalid_json', `record at ${where(msg)} is not JSON: ${(e as Error).message}`);
  }
  const bad = readingProblem(r);
  if (bad) return reject('schema_violation', `record at ${where(msg)} is not a reading: ${bad}`);
  return { ok: true, reading: r };
}

function where(msg: RawMessage): string {
  return msg.kafka ? `${msg.topic}[${msg.kafka.partition}]@${msg.kafka.offset}` : msg.topic;
}

function readingProblem(r: unknown): string | undefined {
  if (!r || typeof r !== 'object') return 'not an object';
  const o = r as Record<string, unknown>;
  for (const k of ['source', 'measurement', 'device', 'timeNs'] as const) if (typeof o[k] !== 'string' || !o[k]) return `${k} must be a non-empty string`;
  if (!/^-?\d{1,20}$/.test(o.timeNs as string)) return 'timeNs must be an integer in ns';
  for (const k of ['eventMs', 'seq', 'receivedAt'] as const) if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) return `${k} must be a number`;
  if (!o.tags || typeof o.tags !== 'object') return 'tags must be an object';
  for (const [k, v] of Object.entries(o.tags)) if (typeof v !== 'string') return `tag ${k} must be a string`;
  if (!o.fields || typeof o.fields !== 'object' || !Object.keys(o.fields).length) return 'fields must be a non-empty object';
  for (const [k, f] of Object.entries(o.fields as Record<string, { type?: unknown; value?: unknown }>)) {
    if (!f || typeof f !== 'object' || !FIELD_TYPES.has(f.type as string)) return `field ${k} has no valid type`;
    const t = typeof f.value;
    if (t !== 'number' && t !== 'string' && t !== 'boolean') return `field ${k} has no valid value`;
  }
  return undefined;
}

/** The value of a record header, as text (undefined when the record has none of that name). */
export function headerOf(headers: { [k: string]: string | Buffer }[] | undefined, name: string): string | undefined {
  for (const h of headers ?? []) if (h[name] !== undefined) return h[name].toString();
  return undefined;
}
