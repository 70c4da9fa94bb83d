import type { Rejection } from '../core/types.js';

/** One dead letter as stored on disk and published to `jl/_dlq/{reason}`. */
export interface DeadLetter {
  at: string;
  reason: string;
  detail: string;
  topic: string;
  source: string;
  /** The original payload, cut to the configured limit. */
  payload: string;
  payloadEncoding: 'utf8' | 'base64';
  payloadSize: number;
  truncated: boolean;
  receivedAt: string;
  /**
   * The broker redelivered the message (after a lost connection, before its PUBACK): delivery is
   * at least once, so this letter may repeat an earlier one with the same topic and payload.
   */
  redelivered?: true;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Builds the dead letter of a rejection. A payload that is valid UTF-8 is kept as text (cut
 * on a character boundary), anything else as base64, so the bytes can always be recovered.
 */
export function toDeadLetter(r: Rejection, payloadLimit: number, now = Date.now()): DeadLetter {
  const size = r.payload.length;
  const cut = r.payload.subarray(0, payloadLimit);
  let payload: string;
  let encoding: DeadLetter['payloadEncoding'] = 'utf8';
  try {
    strictUtf8.decode(r.payload);
    // Cutting may split a multi-byte character: drop the partial one at the end.
    payload = size > payloadLimit ? lenientUtf8.decode(cut).replace(/\uFFFD+$/, '') : r.payload.toString('utf8');
  } catch {
    payload = cut.toString('base64');
    encoding = 'base64';
  }
  return {
    at: new Date(now).toISOString(),
    reason: r.reason,
    detail: r.detail,
    topic: r.topic,
    source: r.source,
    payload,
    payloadEncoding: encoding,
    payloadSize: size,
    truncated: size > payloadLimit,
    receivedAt: new Date(r.receivedAt).toISOString(),
    ...(r.dup ? { redelivered: true as const } : {}),
  };
}
