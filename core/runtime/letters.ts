import type { RawMessage, Reading, Rejection } from '../types.js';
import type { SpoolRecord } from '../stores.js';
import { lineSources } from './spool-record.js';

/**
 * The dead letter of a reading the output refused (or could not encode): the original message,
 * its personal fields pseudonymised by `redact`, reason storage_rejected.
 */
export function storageRejection(reading: Reading, msg: RawMessage, detail: string, redact?: (payload: Buffer) => Buffer): Rejection {
  return { source: reading.source, reason: 'storage_rejected', detail, topic: msg.topic, payload: redact ? redact(msg.payload) : msg.payload, receivedAt: msg.receivedAt };
}

/**
 * The dead letters of the lines of a spooled record the output refused on replay (index ->
 * why): the original messages are long acknowledged, so each letter carries its line as written.
 */
export function spooledRejections(record: SpoolRecord, refused: Map<number, string>, now: number): Rejection[] {
  if (record.unreadable !== undefined) {
    return [{ source: '_spool/_/_', reason: 'storage_rejected', detail: 'spool record damaged on disk and unreadable: its points are lost; the raw bytes are kept here', topic: '(spool)', payload: Buffer.from(record.unreadable), receivedAt: now }];
  }
  const sources = lineSources(record);
  return [...refused].map(([i, detail]) => ({ source: sources[i], reason: 'storage_rejected', detail, topic: '(spool)', payload: Buffer.from(record.lines[i]), receivedAt: now }));
}
