import { SECTOR_NAME, type Sector } from './types.js';

/** The parts of `jl/{sector}/{region}/{deviceId}/{messageType}`. */
export interface TopicParts {
  sector: Sector;
  region: string;
  device: string;
  messageType: string;
}

// No whitespace or control characters, and no trailing backslash: line protocol cannot carry
// those in a tag value, and the device id becomes the `device` tag.
// eslint-disable-next-line no-control-regex -- control characters are exactly what a device id must not hold
const DEVICE_ID = /^[^\s/+#\u0000-\u001f\u007f]{0,63}[^\s/+#\u0000-\u001f\u007f\\]$/u;
const REGION = /^22[0-9]{4}$/;
const SECTOR = new RegExp(SECTOR_NAME);
const MESSAGE_TYPE = /^[a-z][a-z0-9_]{0,31}$/;

/** Topics under `jl/` that the pipeline itself publishes to, never ingests. */
export const RESERVED_PREFIXES = ['jl/_dlq/', 'jl/alerts/', 'jl/_sys/'];

export function isReservedTopic(topic: string): boolean {
  return RESERVED_PREFIXES.some((p) => topic.startsWith(p));
}

/** Parses a data topic, or says what is wrong with it (the `bad_topic` detail). */
export function parseTopic(topic: string): TopicParts | string {
  const parts = topic.split('/');
  if (parts.length !== 5 || parts[0] !== 'jl') return 'topic must be jl/{sector}/{region}/{deviceId}/{messageType}';
  const [, sector, region, device, messageType] = parts;
  // Whether the catalogue has this sector is for ingest to say (validateAndTag).
  if (!SECTOR.test(sector)) return `malformed sector "${sector}"`;
  if (!REGION.test(region)) return `region "${region}" is not a Jilin division code`;
  if (!DEVICE_ID.test(device)) return 'device id must be 1-64 printable characters without spaces or a trailing backslash';
  if (!MESSAGE_TYPE.test(messageType)) return `malformed message type "${messageType}"`;
  return { sector, region, device, messageType };
}

/** Ledger source key of a topic; unparsable topics share one bucket. */
export function sourceKey(p: TopicParts | undefined): string {
  return p ? `${p.sector}/${p.region}/${p.messageType}` : '_invalid/_/_';
}
