/**
 * What a member of a consumer group on a partitioned log (Kafka) reports about itself: read by
 * /metrics (server/), the statistics written to InfluxDB (capacity/) and /stats. Declared once
 * here, where every layer can see it. No I/O.
 */
export interface ConsumerStats {
  topic: string;
  group: string;
  /** Partitions owned now. */
  partitions: number[];
  /** Records behind the newest offset, per owned partition, and in all. */
  lag: Record<number, number>;
  totalLag: number;
  /** Counters since the process started. */
  rebalances: number;
  commits: number;
  commitErrors: number;
  /** Latency of the latest commits, ms (newest last, at most 100). */
  commitMs: number[];
  /** Records taken and not yet durable. */
  unsettled: number;
  /** Every partition held (output down, or too much unsettled). */
  paused: boolean;
  nacked: number;
}
