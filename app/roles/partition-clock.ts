/**
 * Event time per partition of a worker, so each device's absence is judged at its own
 * partition's watermark (DetectionEngine.setDeviceWatermark): the partition's newest event
 * time, advanced by wall time while it delivers nothing and has nothing left to read (so a
 * partition that goes quiet is noticed), never ahead of the wall clock. Partitions are read at different speeds (a backlog
 * on one, live data on another): judged by the fastest, the devices of the slowest would look
 * silent. A partition just assigned goes on from the newest event time restored for it, as of
 * the wall time it was checkpointed, as if its previous owner had kept it.
 */
export class PartitionClock {
  private readonly parts = new Map<number, { event: number; at: number; judged?: number }>();

  /**
   * `caughtUp(partition)`: whether the partition has nothing left to read. Only then is its
   * quiet real absence; a partition with a backlog is merely read slowly (a busy worker),
   * and its watermark waits for its records.
   */
  constructor(private readonly caughtUp: (partition: number) => boolean = () => true) {}

  /** A record of `partition` with event time `eventMs` was taken at wall time `now`. */
  saw(partition: number, eventMs: number, now: number): void {
    const p = this.parts.get(partition);
    if (!p) this.parts.set(partition, { event: eventMs, at: now });
    else {
      if (eventMs > p.event) p.event = eventMs;
      p.at = now;
    }
  }

  /** The partitions owned now, with the newest event time restored for each new one. */
  assigned(partitions: number[], restored: (partition: number) => { event: number; at: number } | undefined): void {
    for (const p of this.parts.keys()) if (!partitions.includes(p)) this.parts.delete(p);
    for (const p of partitions) {
      const r = restored(p);
      if (!this.parts.has(p) && r !== undefined) this.parts.set(p, { ...r });
    }
  }

  /**
   * True (once) each time the partition's event time has moved `everyMs` past the last time it
   * said so: when its devices' absence is due to be judged again.
   */
  advanced(partition: number, everyMs: number): boolean {
    const p = this.parts.get(partition);
    if (!p) return false;
    if (p.judged !== undefined && p.event - p.judged < everyMs) return false;
    p.judged = p.event;
    return true;
  }

  /** The partition's watermark, or undefined before it delivered (or restored) anything. */
  watermark(partition: number, now: number): number | undefined {
    const p = this.parts.get(partition);
    if (!p) return undefined;
    return this.caughtUp(partition) ? Math.min(now, p.event + Math.max(0, now - p.at)) : Math.min(now, p.event);
  }
}
