import type { ErrorObject } from 'ajv';
import type { CatalogueView } from '../core/catalogue.js';
import type { Outcome, RawMessage, Reading, RejectReason, RejectSignal } from '../core/types.js';
import { eventTimeMs, validateEnvelope, type WirePayload } from './wire-payload.js';
import { pseudonymise, redactPersonal } from './pseudonymise.js';
import { verify } from '../core/signature.js';
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

/**
 * Turns one raw MQTT message into a Reading ready for storage, or a Rejection with a reason
 * code. Pure apart from reading the clock; never throws for any input.
 *
 * Order of checks: size, topic, JSON, envelope, catalogue, device, signature, data schema.
 * A keyed device's forged message is `bad_signature` even if its data is also wrong: the
 * security signal matters more than the data error.
 */
export function validateAndTag(ctx: TagContext, msg: RawMessage, now = Date.now()): Outcome {
  const catalogue = ctx.catalogue();
  // The topic's parts, or why the topic has none; then its catalogue entry, if any.
  const parts = parseTopic(msg.topic);
  const entry = typeof parts === 'string' ? undefined : catalogue.byType.get(`${parts.sector}/${parts.messageType}`);
  let body: unknown;
  const reject = (reason: RejectReason, detail: string, signal?: RejectSignal): Outcome => ({
    ok: false,
    rejection: {
      source: sourceKey(typeof parts === 'string' ? undefined : parts),
      reason,
      detail,
      topic: msg.topic,
      // A dead letter must not keep a personal identifier in clear either.
      payload: entry?.personalFields.length ? redactPersonal(ctx.pseudonymKey, entry.personalFields, msg.payload, body) : msg.payload,
      receivedAt: msg.receivedAt,
      ...(signal ? { signal } : {}),
    },
  });

  if (typeof parts === 'string') return reject('bad_topic', parts);
  if (!catalogue.divisions.has(parts.region)) return reject('bad_topic', `region ${parts.region} is not in the catalogue`);
  if (msg.payload.length > ctx.maxPayloadBytes) return reject('payload_too_large', `${msg.payload.length} bytes > ${ctx.maxPayloadBytes}`);

  try {
    body = JSON.parse(msg.payload.toString('utf8'));
  } catch (e) {
    return reject('invalid_json', (e as Error).message.slice(0, 200));
  }
  if (!validateEnvelope(body)) {
    const e = validateEnvelope.errors![0];
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
  if (device.key) {
    if (payload.sig === undefined) return reject('bad_signature', 'missing signature from a keyed device');
    let ok: boolean;
    try {
      ok = verify(device.key, msg.topic, payload);
    } catch {
      ok = false; // e.g. a payload too deep to canonicalise: it cannot carry a valid signature
    }
    if (!ok) return reject('bad_signature', 'signature does not match');
  }

  if (!entry.validate(payload.data)) {
    const e = entry.validate.errors![0];
    const extra = e.keyword === 'additionalProperties' ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"` : '';
    return reject('schema_violation', `data${e.instancePath} ${e.message}${extra}`, rangeSignal(e, payload.data));
  }
  const eventMs = eventTimeMs(payload.ts);
  if (Number.isNaN(eventMs)) return reject('schema_violation', 'ts is outside 2000-2100');
  if (eventMs > now + ctx.futureToleranceMs) return reject('schema_violation', `ts is ${eventMs - now} ms in the future`, { kind: 'future_ts', eventMs });

  const fields: Reading['fields'] = {};
  for (const [name, value] of Object.entries(payload.data)) {
    const type = entry.fieldTypes[name];
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

  // Nanoseconds below the millisecond carry seq, so two readings of a device in one
  // millisecond never overwrite each other, while a redelivered message overwrites itself.
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
        device: parts.device,
        grade: entry.grade,
        share: entry.share,
        catalog_version: catalogue.version,
      },
      fields,
      timeNs,
      eventMs,
      device: parts.device,
      seq: payload.seq,
      receivedAt: msg.receivedAt,
      ...(msg.dup ? { dup: true } : {}),
    },
  };
}
