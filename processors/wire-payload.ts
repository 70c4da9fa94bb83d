import type { FromSchema } from 'json-schema-to-ts';
import { makeAjv } from '../config/ajv.js';

// Epoch ms between 2000-01-01 and 2100-01-01: anything else is not a plausible event time.
const MIN_MS = 946_684_800_000;
const MAX_MS = 4_102_444_800_000;

export const envelopeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ts', 'seq', 'data'],
  properties: {
    ts: {
      oneOf: [
        { type: 'string', format: 'date-time', maxLength: 40 },
        // Epoch seconds (may have a fraction) or epoch milliseconds: see eventTimeMs.
        { type: 'number', minimum: MIN_MS / 1000, maximum: MAX_MS },
      ],
    },
    seq: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    data: { type: 'object' },
    sig: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
  },
} as const;

/** The wire payload `{ts, seq, data, sig?}` (SPEC 2). */
export type WirePayload = FromSchema<typeof envelopeSchema>;

export const validateEnvelope = makeAjv().compile<WirePayload>(envelopeSchema);

/** What `ts` may be, for the error that names it. */
export const TS_FORMS = 'an RFC 3339 date-time with an offset (2026-12-06T08:00:00+08:00), epoch milliseconds (1780732800000) or epoch seconds (1780732800), between 2000 and 2100';

/** Below this a numeric `ts` is epoch seconds: as milliseconds it would be before 1973. */
const SECONDS_BELOW = 1e11;

/**
 * Event time in ms of a validated `ts`, or NaN when outside 2000-2100 or not a whole millisecond.
 * A number below 1e11 is epoch seconds (a fraction gives milliseconds), any other epoch ms.
 */
export function eventTimeMs(ts: string | number): number {
  const ms = typeof ts === 'string' ? Date.parse(ts) : ts < SECONDS_BELOW ? Math.round(ts * 1000) : ts;
  return ms >= MIN_MS && ms <= MAX_MS && Number.isInteger(ms) ? ms : NaN;
}
