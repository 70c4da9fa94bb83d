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
}
