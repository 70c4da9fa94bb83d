import type { Logger } from 'pino';
import { SpoolFullError } from '../errors.js';

/** What the runtime knows about its output and stores, for `/readyz`, `/metrics` and `/stats`. */
export interface StoreHealth {
  /** The last write to the output (direct or replay) went through. */
  outputUp: boolean;
  /** The last spool append did not fail with an I/O error (probed again while it is false). */
  spoolWritable: boolean;
  /** The last append was refused because the spool is at its bound. */
  spoolFull: boolean;
  /** The spool is above its alarm ratio. */
  spoolAlarm: boolean;
  /** The last dead-letter write went through. */
  deadLetterWritable: boolean;
  /** Replaying the spool fails for a reason other than the output (reading or committing the spool). */
  replayFailing: boolean;
  /** Output writes retried, spool appends and dead-letter writes retried: a counter. */
  retries: number;
  /** Errors thrown by a stage of the flow (logged; the message went on). */
  stageErrors: number;
}

/**
 * Tracks StoreHealth and logs each change of state once (not every failed attempt), so an
 * outage leaves a few clear lines rather than a flood.
 */
export class HealthTracker {
  readonly state: StoreHealth = { outputUp: true, spoolWritable: true, spoolFull: false, spoolAlarm: false, deadLetterWritable: true, replayFailing: false, retries: 0, stageErrors: 0 };

  constructor(private readonly log: Logger) {}

  outputOk(): void {
    if (!this.state.outputUp) this.log.warn('output reachable again');
    this.state.outputUp = true;
  }

  outputFailed(e: unknown): void {
    if (this.state.outputUp) this.log.error({ err: message(e) }, 'output unavailable; batches go to the durable spool');
    this.state.outputUp = false;
  }

  spoolOk(): void {
    if (!this.state.spoolWritable) this.log.warn('spool writable again');
    if (this.state.spoolFull) this.log.warn('spool takes data again');
    this.state.spoolWritable = true;
    this.state.spoolFull = false;
  }

  spoolFailed(e: unknown): void {
    if (e instanceof SpoolFullError) {
      if (!this.state.spoolFull) this.log.error({ err: e.message }, 'SPOOL FULL: messages stay unacknowledged (the broker holds them) until the output or the spool takes them');
      this.state.spoolFull = true;
      return;
    }
    if (this.state.spoolWritable) this.log.error({ err: message(e) }, 'SPOOL NOT WRITABLE: messages stay unacknowledged until it is');
    this.state.spoolWritable = false;
  }

  /** After the spool's size changed: the alarm follows the fill ratio, and an emptied spool is no longer full. */
  spoolFill(ratio: number, alarmRatio: number, bytes: number, limit: number): void {
    const alarm = ratio >= alarmRatio;
    if (this.state.spoolFull && !alarm) {
      this.log.warn({ spoolBytes: bytes }, 'spool has room again');
      this.state.spoolFull = false;
    }
    if (alarm && !this.state.spoolAlarm) this.log.error({ spoolBytes: bytes, spoolLimit: limit }, `SPOOL ALARM: spool is ${Math.round(ratio * 100)}% full; when full, acknowledgements stop and the broker holds the data`);
    if (!alarm && this.state.spoolAlarm) this.log.warn({ spoolBytes: bytes }, 'spool alarm cleared');
    this.state.spoolAlarm = alarm;
  }

  replayOk(): void {
    if (this.state.replayFailing) this.log.warn('spool replay going again');
    this.state.replayFailing = false;
  }

  replayFailed(e: unknown): void {
    if (!this.state.replayFailing) this.log.error({ err: message(e) }, 'SPOOL REPLAY FAILING: reading or committing the spool fails; retrying');
    this.state.replayFailing = true;
  }

  deadLetterOk(): void {
    if (!this.state.deadLetterWritable) this.log.warn('dead-letter store writable again');
    this.state.deadLetterWritable = true;
  }

  deadLetterFailed(e: unknown): void {
    if (this.state.deadLetterWritable) this.log.error({ err: message(e) }, 'DEAD-LETTER STORE NOT WRITABLE: rejected messages stay unacknowledged until it is');
    this.state.deadLetterWritable = false;
  }
}

export const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
