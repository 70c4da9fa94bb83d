/** A registered device (SPEC 2): where it may send, what, and its key. No I/O here. */
import type { FromSchema } from 'json-schema-to-ts';
import { SECTOR_NAME } from './types.js';

/** JSON Schema of one device of the registry (config/schemas/devices.schema.ts lists them). */
export const deviceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'sector', 'region', 'types'],
  properties: {
    id: { type: 'string', pattern: '^[^\\s/+#\\u0000-\\u001f\\u007f]{0,63}[^\\s/+#\\u0000-\\u001f\\u007f\\\\]$', description: 'Device id as it appears in the topic.' },
    sector: { type: 'string', pattern: SECTOR_NAME, description: 'A sector of the catalogue.' },
    region: { type: 'string', pattern: '^22[0-9]{4}$' },
    types: { type: 'array', minItems: 1, items: { type: 'string' }, uniqueItems: true },
    key: { type: 'string', pattern: '^([0-9a-fA-F]{2}){16,64}$', description: 'HMAC-SHA256 key (hex); messages must then be signed.' },
    previousKey: { type: 'string', pattern: '^([0-9a-fA-F]{2}){16,64}$', description: 'The key before the last rotation (hex): it still verifies until previousKeyUntil, so devices can take the new key without a gap.' },
    previousKeyUntil: { type: 'string', format: 'date-time', description: 'End of the rotation grace period (RFC 3339).' },
    sigScheme: {
      enum: ['v1', 'v2'],
      default: 'v1',
      description: 'How a keyed device signs (docs/DEVICES.md): v2 over the payload bytes as sent (MQTT 5 user property `sig`, or a `sig=` trailer line); v1 over canonical JSON in the payload\'s `sig` field (fielded devices).',
    },
    criticalInfrastructure: { type: 'boolean', default: false },
  },
} as const;

/** A device as written in the registry file, defaults filled (`key` in hex). */
export type RawDevice = FromSchema<typeof deviceSchema>;

/** A registered device; when `key` is present every message must carry a valid `sig`. */
export type Device = Omit<RawDevice, 'key' | 'sigScheme' | 'previousKey' | 'previousKeyUntil'> & {
  key?: Buffer;
  sigScheme?: RawDevice['sigScheme'];
  /** The key before the last rotation, accepted until `previousKeyUntil` (epoch ms). */
  previousKey?: Buffer;
  previousKeyUntil?: number;
};

export type Registry = Map<string, Device>;
