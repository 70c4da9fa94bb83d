/** How the delivery runtime batches, retries and judges its own health (pipeline.yaml `influx`, `spool`, `runtime`). */
export interface RuntimeOptions {
  /** Readings (or rejections) per batch. */
  batchSize: number;
  /** Longest a message waits for its batch to fill. */
  flushMs: number;
  /** Reading batches being made durable at once. */
  maxInFlight: number;
  /** Direct write attempts after the first before a batch goes to the spool. */
  retries: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** Points per replayed spool chunk. */
  replayBatch: number;
  /** First wait between replay attempts while the output is down (doubles after each failure). */
  probeMs: number;
  /** Longest wait between replay attempts. */
  probeMaxMs: number;
  /** Spool fill ratio that raises the alarm. */
  alarmRatio: number;
  /** Unready once a message has waited longer than this for a durable outcome. */
  maxUnackedAgeMs: number;
  /**
   * Messages held at once (received, outcome not durable yet): past it the runtime asks its
   * source to stop reading (`pressure` true), and lets it read again once half have settled.
   * A broker may send far more than the receive window (mosquitto with `max_queued_messages 0`
   * does), and a backlog taken in whole would sit in memory. Default: no bound.
   */
  maxPending?: number;
}
