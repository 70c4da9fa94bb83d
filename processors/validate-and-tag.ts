import type { ErrorObject } from 'ajv';
import { FIELD_NAME, RESERVED_FIELDS, type Catalogue, type CatalogueView } from '../core/catalogue.js';
import type { FieldValue, Outcome, RawMessage, Reading, RejectReason, RejectSignal } from '../core/types.js';
import type { Device } from '../core/device.js';
import { eventTimeMs, TS_FORMS, validateEnvelope, type WirePayload } from './wire-payload.js';
import { pseudonymise, redactPersonal } from './pseudonymise.js';
import { splitTrailer, verify, verifyV2 } from '../core/signature.js';
import { parseTopic, sourceKey } from '../core/topic.js';

/** What validating and tagging needs: the catalogue and registry in force, and the limits. */
export interface TagContext extends CatalogueView {
  pseudonymKey: Buffer;
  maxPayloadBytes: number;
  futureToleranceMs: number;
}

/** A value outside the schema's physical range is a signal for the range processor. */
function rangeSignal(e: ErrorObject, data: Record<string, unknown>): RejectSignal | undefined {
  if (e.keyword !== 'minimum' && e.keyword !== 'maximum') return undefined;
  const field = e.instancePath.slice(1);
  const value = data[field];
  if (typeof value !== 'number' || field.includes('/')) return undefined;
  return { kind: 'range', field, value, limit: (e.params as { limit: number }).limit, bound: e.keyword };
}

const isWellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

const SIG = /^[0-9a-fA-F]{64}$/;

/** Pseudonymises every personal field in a payload, as a rejection's dead letter is (for the runtime's `Flow.redact`). */
export function personalRedactor(ctx: TagContext): (payload: Buffer) => Buffer {
  return (payload) => redactPersonal(ctx.pseudonymKey, allPersonalFields(ctx.catalogue()), payload, { parse: payload.length <= ctx.maxPayloadBytes });
}

/** Every personal field of any catalogue entry, per catalogue version. */
const personalOf = new WeakMap<Catalogue, string[]>();
function allPersonalFields(c: Catalogue): string[] {
  let f = personalOf.get(c);
  if (!f) personalOf.set(c, (f = [...new Set(c.entries.flatMap((e) => e.personalFields))]));
  return f;
}

/** JSON.parse's message without the excerpt of the payload that V8 quotes (it may be personal). */
const jsonError = (e: unknown) => String((e as Error).message).replace(/,\s*(?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, ' (payload is not valid JSON)').slice(0, 200);

/**
 * Timestamps that cannot silently collide. A point's time is its event ms with `seq mod 10^6` as
 * the sub-ms digits, so two readings of one device and type in one ms share a point (the later
 * overwrites the earlier) exactly when their seqs are congruent mod 10^6. Rule, per pipeline
 * (TagContext), device and message type: remember the newest event ms and the lowest and highest
 * seq accepted in it. While that span is below 10^6 the seqs in it have distinct sub-ms digits;
 * a reading in that ms that would widen it to 10^6 or more is refused (`schema_violation`), so
 * it is dead-lettered with a reason instead of overwriting a stored one. A redelivered reading
 * has the same seq, stays inside the span and overwrites itself (idempotent). Only a device whose
 * clock stands still (or jumps back to one ms) meets this; healthy seqs never span 10^6 in one ms.
 * Readings older than the newest ms are not checked (out of order; state is in memory only).
 */
type NewestMs = { ms: number; lo: number; hi: number };
const newestMs = new WeakMap<TagContext, Map<string, Map<string, NewestMs>>>();
/** `device` is the registry's id string: kept as a key, a slice of the topic would keep the whole topic. */
function sameMsClash(ctx: TagContext, device: string, messageType: string, ms: number, seq: number): string | undefined {
  let byType = newestMs.get(ctx);
  if (!byType) newestMs.set(ctx, (byType = new Map<string, Map<string, NewestMs>>()));
  let byDevice = byType.get(messageType);
  if (!byDevice) byType.set(messageType, (byDevice = new Map<string, NewestMs>()));
  const s = byDevice.get(device);
  if (!s) {
    byDevice.set(device, { ms, lo: seq, hi: seq });
    return undefined;
  }
  if (ms > s.ms) {
    s.ms = ms;
    s.lo = seq;
    s.hi = seq;
    return undefined;
  }
  if (ms < s.ms) return undefined;
  const lo = Math.min(s.lo, seq);
  const hi = Math.max(s.hi, seq);
  if (hi - lo >= 1_000_000) {
    const other = seq === lo ? s.hi : s.lo;
    return `seq ${seq} has the same event ms (${ms}) as seq ${other} of this device, ${hi - lo} apart: the point time carries only seq mod 10^6, so it could overwrite another reading (is the device clock standing still?)`;
  }
  s.lo = lo;
  s.hi = hi;
  return undefined;
}

/**
 * Turns one raw MQTT message into a Reading ready for storage, or a Rejection with a reason
 * code. Never throws for any input. Pure apart from reading the clock and the per-device
 * newest-ms state of `sameMsClash` (kept per TagContext).
 *
 * Order of checks: size, topic, JSON, envelope, catalogue, device, signature, data schema.
 * A keyed device's forged message is `bad_signature` even if its data is also wrong: the
 * security signal matters more than the data error.
 */
export function validateAndTag(ctx: TagContext, msg: RawMessage, now = Date.now()): Outcome {
  const catalogue = ctx.catalogue();
  // The topic's parts, or why the topic has none; then its catalogue entry, if any.
  const parsed = parseTopic(msg.topic);
  // The sectors are the catalogue's: a new one (water) is a catalogue change, not a code change.
  const parts = typeof parsed === 'string' || catalogue.sectors.has(parsed.sector) ? parsed : `unknown sector "${parsed.sector}" (the catalogue has ${[...catalogue.sectors].join(', ')})`;
  const entry = typeof parts === 'string' ? undefined : catalogue.byType.get(`${parts.sector}/${parts.messageType}`);
  const reject = (reason: RejectReason, detail: string, signal?: RejectSignal): Outcome => ({
    ok: false,
    rejection: {
      source: sourceKey(typeof parts === 'string' ? undefined : parts),
      reason,
      detail,
      topic: msg.topic,
      // A dead letter must not keep a personal identifier in clear either, whatever the topic
      // says: the personal fields of every catalogue entry are redacted.
      payload: redactPersonal(ctx.pseudonymKey, allPersonalFields(catalogue), msg.payload, { parse: msg.payload.length <= ctx.maxPayloadBytes }),
      receivedAt: msg.receivedAt,
      ...(signal ? { signal } : {}),
    },
  });

  if (typeof parts === 'string') return reject('bad_topic', parts);
  if (!catalogue.divisions.has(parts.region)) return reject('bad_topic', `region ${parts.region} is not in the catalogue`);
  if (msg.payload.length > ctx.maxPayloadBytes) return reject('payload_too_large', `${msg.payload.length} bytes > ${ctx.maxPayloadBytes}`);

  // Wire contract v2 from an MQTT 3.1.1 device: the signed bytes, then a `sig=` trailer line.
  const trailer = splitTrailer(msg.payload);
  const bytes = trailer ? trailer.body : msg.payload;
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return reject('invalid_json', jsonError(e));
  }
  // A `sig` present but not 64 hex characters is judged once the device is known: from a keyed
  // device it is a bad signature (a forgery signal), not a schema problem.
  let malformedSig = false;
  if (body && typeof body === 'object' && !Array.isArray(body) && Object.hasOwn(body, 'sig')) {
    const { sig, ...rest } = body as Record<string, unknown>;
    if (typeof sig !== 'string' || !SIG.test(sig)) {
      malformedSig = true;
      body = rest;
    }
  }
  if (!validateEnvelope(body)) {
    const e = validateEnvelope.errors![0];
    if (e.instancePath === '/ts') return reject('schema_violation', `envelope /ts must be ${TS_FORMS}`);
    return reject('schema_violation', `envelope ${e.instancePath || '/'} ${e.message}`);
  }
  const payload: WirePayload = body;

  if (!entry) return reject('not_in_catalogue', `no catalogue entry for ${parts.sector}/${parts.messageType}`);

  const device = ctx.registry().get(parts.device);
  if (!device) return reject('unknown_device', `device "${parts.device}" is not registered`);
  if (device.sector !== parts.sector || device.region !== parts.region) {
    return reject('device_mismatch', `device "${device.id}" is registered in ${device.sector}/${device.region}, sent on ${parts.sector}/${parts.region}`);
  }
  if (!device.types.includes(parts.messageType)) {
    return reject('device_mismatch', `device "${device.id}" may not send ${parts.messageType}`);
  }
  const v2 = device.sigScheme === 'v2';
  if (device.key && v2) {
    const sig = msg.sig ?? trailer?.sig;
    if (sig === undefined) return reject('bad_signature', 'missing signature from a keyed device (sigScheme v2: the MQTT 5 user property "sig", or a "sig=" trailer line)');
    if (!signedBy(device, msg.receivedAt, (k) => verifyV2(k, msg.topic, bytes, sig))) return reject('bad_signature', 'signature does not match (sigScheme v2: HMAC-SHA256 of the topic, a line feed and the payload bytes as sent)');
  } else if (device.key) {
    if (malformedSig) return reject('bad_signature', 'signature is malformed: sig must be 64 hex characters');
    if (payload.sig === undefined) return reject('bad_signature', 'missing signature from a keyed device');
    let ok: boolean;
    try {
      ok = signedBy(device, msg.receivedAt, (k) => verify(k, msg.topic, payload));
    } catch {
      ok = false; // e.g. a payload too deep to canonicalise: it cannot carry a valid signature
    }
    if (!ok) return reject('bad_signature', 'signature does not match');
  }
  // An unkeyed (or v2) device's `sig` field is not checked, so a malformed one is a schema problem, not forgery.
  if (malformedSig) return reject('schema_violation', 'envelope /sig must be 64 hex characters');

  if (!entry.validate(payload.data)) {
    const e = entry.validate.errors![0];
    const extra = e.keyword === 'additionalProperties' ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"` : '';
    return reject('schema_violation', `data${e.instancePath} ${e.message}${extra}`, rangeSignal(e, payload.data));
  }
  const eventMs = eventTimeMs(payload.ts);
  if (Number.isNaN(eventMs)) return reject('schema_violation', `ts must be ${TS_FORMS}`);
  if (eventMs > now + ctx.futureToleranceMs) return reject('schema_violation', `ts is ${eventMs - now} ms in the future`, { kind: 'future_ts', eventMs });

  const fields: Reading['fields'] = {};
  let unknown: string[] | undefined;
  for (const [name, value] of Object.entries(payload.data)) {
    // Own properties only: `__proto__` would find Object.prototype.
    const type = Object.hasOwn(entry.fieldTypes, name) ? entry.fieldTypes[name] : undefined;
    if (type === undefined) {
      // A name no field could have (`__proto__`, spaces, upper case) is not a firmware update.
      if (!FIELD_NAME.test(name)) return reject('schema_violation', `data field name ${JSON.stringify(name.slice(0, 64))} is not a field name (lower-case snake_case)`);
      // Not in the schema (the entry's unknownFields is not reject, or validation would have
      // refused it): stored as its JSON type when the entry says store and it can be a field.
      (unknown ??= []).push(name);
      const as = entry.unknownFields === 'store' ? storableAs(name, value) : undefined;
      if (as) fields[name] = { type: as, value: value as FieldValue };
      continue;
    }
    if (typeof value === 'string') {
      if (!isWellFormed(value)) return reject('schema_violation', `data/${name} is not well-formed Unicode`);
      fields[name] = { type, value: entry.personalFields.includes(name) ? pseudonymise(ctx.pseudonymKey, value) : value };
    } else {
      // JSON numbers past 2^53 lose digits when parsed: storing one would store another number.
      if (type === 'integer' && !Number.isSafeInteger(value)) return reject('schema_violation', `data/${name} ${String(value)} is too large to store exactly (integers must be within ±${Number.MAX_SAFE_INTEGER})`);
      fields[name] = { type, value: value as number | boolean };
    }
  }
  fields.seq = { type: 'integer', value: payload.seq };

  // Nanoseconds below the millisecond carry seq mod 10^6: a redelivered message overwrites
  // itself; of two different seqs that would share a point, sameMsClash refuses the second.
  const clash = sameMsClash(ctx, device.id, parts.messageType, eventMs, payload.seq);
  if (clash) return reject('schema_violation', clash);
  const timeNs = `${eventMs}${String(payload.seq % 1_000_000).padStart(6, '0')}`;
  return {
    ok: true,
    reading: {
      source: sourceKey(parts),
      measurement: entry.measurement,
      tags: {
        code: entry.code,
        sector: parts.sector,
        region: parts.region,
        device: device.id,
        grade: entry.grade,
        share: entry.share,
        catalog_version: catalogue.version,
      },
      fields,
      timeNs,
      eventMs,
      device: device.id,
      seq: payload.seq,
      receivedAt: msg.receivedAt,
      ...(msg.dup ? { dup: true } : {}),
      ...(unknown ? { unknownFields: unknown } : {}),
    },
  };
}

/** Whether the message verifies with the device's key, or during a rotation's grace period with the previous one (no array per message). */
function signedBy(device: Device, at: number, verifiesWith: (key: Buffer) => boolean): boolean {
  if (verifiesWith(device.key!)) return true;
  return device.previousKey !== undefined && at < (device.previousKeyUntil ?? 0) && verifiesWith(device.previousKey);
}

/** The field type an unknown field is stored as: numbers as float (a later integer would conflict), none for what cannot be a field. */
function storableAs(name: string, value: unknown): 'float' | 'string' | 'boolean' | undefined {
  if (Object.hasOwn(RESERVED_FIELDS, name)) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? 'float' : undefined;
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'string') return isWellFormed(value) && value.length <= 1024 ? 'string' : undefined;
  return undefined;
}
