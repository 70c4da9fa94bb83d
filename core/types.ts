/**
 * Contracts shared by every stage of the flow. No I/O here.
 *
 * A source yields Envelopes; the delivery runtime (core/runtime) passes the raw message through
 * the flow's stages, which turn it into a Reading (to be stored) or a Rejection (to be
 * dead-lettered), and settles each envelope exactly once: `ack` when its outcome is durable,
 * `nack` when the runtime gives it back unsettled (see Envelope).
 */

/**
 * A sector (agri, v2x, energy, iiot, ...): the catalogue's entries say which exist, so a new one
 * (water) is a catalogue change. What a sector name may look like is fixed here.
 */
export type Sector = string;
export const SECTOR_NAME = '^[a-z][a-z0-9_]{0,31}$';

/** A message exactly as it came off the wire. */
export interface RawMessage {
  topic: string;
  payload: Buffer;
  /** Arrival time, ms since epoch. */
  receivedAt: number;
  /** MQTT DUP flag: the broker is redelivering a message it may have sent before. */
  dup?: boolean;
  /** The MQTT 5 user property `sig`: a wire contract v2 signature carried outside the payload. */
  sig?: string;
  /** Where a Kafka record came from (scale-out): its partition and offset. */
  kafka?: { partition: number; offset: number };
}

/**
 * A raw message plus the way to settle it with its source. The runtime calls exactly one of
 * `ack` and `nack`, exactly once, for every envelope it is handed; never both, never neither
 * (short of the process dying, when the source's own redelivery takes over).
 */
export interface Envelope {
  msg: RawMessage;
  /** The message's outcome is durable (stored, spooled or dead-lettered): the source may forget it. */
  ack(): void;
  /**
   * The runtime gives the message back unsettled (it is stopping before the outcome could be
   * made durable). The source must deliver it again: MQTT leaves it unacknowledged, so the broker
   * redelivers it (reconnecting if still running); Kafka would not commit and seek back.
   */
  nack(err: Error): void;
}

/**
 * Where envelopes come from. `start` begins delivering to `handler` (calls never overlap:
 * one message at a time, in arrival order); `pause` stops delivering new messages (unsettled
 * ones stay with the source); `stop` disconnects.
 */
export interface Source {
  readonly name: string;
  start(handler: (env: Envelope) => void): void;
  pause(): void;
  stop(): Promise<void>;
  /**
   * Backpressure: `true` stops reading from the connection (what is already read is still handed
   * on), `false` reads again. Nothing is acknowledged or lost; the broker keeps the rest.
   */
  throttle?(hold: boolean): void;
}

/** Ledger key of the source a message came from: `sector/region/messageType`. */
export type SourceKey = string;

export type FieldValue = number | string | boolean;

/** A validated, tagged message, ready for storage. */
export interface Reading {
  source: SourceKey;
  measurement: string;
  tags: Record<string, string>;
  /** Fields with their InfluxDB types (from the catalogue schema), personal ones pseudonymised. */
  fields: Record<string, { type: 'float' | 'integer' | 'string' | 'boolean'; value: FieldValue }>;
  /** Event time, ns since epoch, as a decimal string (exceeds 2^53). */
  timeNs: string;
  /** Event time in ms, for latency and lateness. */
  eventMs: number;
  device: string;
  seq: number;
  receivedAt: number;
  /** Redelivered by the broker (MQTT DUP): a repeated seq is then not a replay. */
  dup?: boolean;
  /** Data fields the catalogue entry does not name: stored or dropped by its `unknownFields`. */
  unknownFields?: string[];
}

export const REJECT_REASONS = [
  'bad_topic',
  'invalid_json',
  'payload_too_large',
  'not_in_catalogue',
  'schema_violation',
  'unknown_device',
  'device_mismatch',
  'bad_signature',
  'storage_rejected',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** A message that could not be stored, with why. Goes to the dead-letter sink. */
export interface Rejection {
  source: SourceKey;
  reason: RejectReason;
  detail: string;
  topic: string;
  payload: Buffer;
  receivedAt: number;
  /** What the detectors need to know about the refusal, where ingest could tell. */
  signal?: RejectSignal;
  /** The broker redelivered the message (MQTT DUP): its dead letter may already exist. */
  dup?: boolean;
}

/** Facts ingest found while refusing a message, for the anomaly processors. */
export type RejectSignal =
  | { kind: 'range'; field: string; value: number; limit: number; bound: 'minimum' | 'maximum' }
  | { kind: 'future_ts'; eventMs: number };

export type Outcome = { ok: true; reading: Reading } | { ok: false; rejection: Rejection };
