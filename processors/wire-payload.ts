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
        { type: 'integer', minimum: MIN_MS, maximum: MAX_MS },
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

/** Event time in ms of a validated `ts`, or NaN when an RFC 3339 string is out of range. */
export function eventTimeMs(ts: string | number): number {
  if (typeof ts === 'number') return ts;
  const ms = Date.parse(ts);
  return ms >= MIN_MS && ms <= MAX_MS ? ms : NaN;
}
