import { createHmac, timingSafeEqual } from 'node:crypto';
import { configure } from 'safe-stable-stringify';

// RFC 8785 (JCS) for JSON-parsed values: keys sorted by UTF-16 code units, ECMAScript number
// and string serialisation. safe-stable-stringify in deterministic mode produces exactly this
// for such values and is about twice as fast as a generic JCS library on the hot path.
const canonicalize = configure({ deterministic: true, bigint: false, strict: true }) as (v: unknown) => string;

/**
 * Wire contract v1 (`sigScheme: v1`, fielded devices). The bytes a device signs: the topic, a newline, and the payload without `sig` in RFC 8785
 * canonical JSON (sorted keys, shortest numbers), so re-serialisation cannot break a signature.
 */
export function signedBytes(topic: string, payload: Record<string, unknown>): string {
  const { sig: _sig, ...unsigned } = payload;
  return `${topic}\n${canonicalize(unsigned)}`;
}

/** Hex HMAC-SHA256 of a payload for a topic: what a device puts into `sig`. */
export function sign(key: Buffer, topic: string, payload: Record<string, unknown>): string {
  return createHmac('sha256', key).update(signedBytes(topic, payload)).digest('hex');
}

/** Constant-time check of `payload.sig`. */
export function verify(key: Buffer, topic: string, payload: Record<string, unknown>): boolean {
  const sig = payload.sig;
  if (typeof sig !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sig)) return false;
  const expected = createHmac('sha256', key).update(signedBytes(topic, payload)).digest();
  return timingSafeEqual(expected, Buffer.from(sig, 'hex'));
}

/**
 * Wire contract v2 (`sigScheme: v2`): HMAC-SHA256 over the topic, a newline (0x0a) and the
 * payload bytes exactly as sent, so no re-serialisation is involved on either side (a device may
 * write `50.0`, spaces, any key order). Carried outside those bytes: as the MQTT 5 user property
 * `sig`, or, for MQTT 3.1.1, as a trailer line after them (`splitTrailer`). `ts` and `seq` are
 * inside the signed bytes, so a replayed message cannot be given a new seq or time.
 */
export function signV2(key: Buffer, topic: string, body: Buffer | string): string {
  return createHmac('sha256', key).update(topic, 'utf8').update('\n').update(body).digest('hex');
}

/** Constant-time check of a v2 signature (64 hex characters). */
export function verifyV2(key: Buffer, topic: string, body: Buffer, sig: string): boolean {
  if (!SIG_HEX.test(sig)) return false;
  const expected = createHmac('sha256', key).update(topic, 'utf8').update('\n').update(body).digest();
  return timingSafeEqual(expected, Buffer.from(sig, 'hex'));
}

const SIG_HEX = /^[0-9a-fA-F]{64}$/;
/** `\nsig=` then 64 hex digits: the trailer's length. */
const TRAILER = 69;
const TRAILER_HEAD = Buffer.from('\nsig=');

/**
 * The MQTT 3.1.1 form of v2: the payload is the signed bytes followed by a line feed, `sig=` and
 * the 64 hex digits of the signature, nothing after. Returns the signed bytes and the signature,
 * or undefined when the payload ends in no such trailer.
 */
export function splitTrailer(payload: Buffer): { body: Buffer; sig: string } | undefined {
  if (payload.length < TRAILER) return undefined;
  const at = payload.length - TRAILER;
  if (!payload.subarray(at, at + TRAILER_HEAD.length).equals(TRAILER_HEAD)) return undefined;
  const sig = payload.toString('latin1', at + TRAILER_HEAD.length);
  return SIG_HEX.test(sig) ? { body: payload.subarray(0, at), sig } : undefined;
}
