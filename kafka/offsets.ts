/**
 * Which offsets of one partition may be committed: records are taken in offset order but
 * settle (become durable) in any order, and a commit must never pass a record that is not
 * durable yet. The committable offset is the first unsettled one (Kafka commits the next
 * offset to read), or one past the newest taken when all are settled. Pure, no I/O.
 */
export class PartitionOffsets {
  private readonly taken: number[] = [];
  private head = 0;
  private readonly settled = new Set<number>();
  private next = -1;
  /** The offset last committed (or -1). */
  committed = -1;

  /** A record taken from the partition, in offset order. */
  take(offset: number): void {
    this.taken.push(offset);
    this.next = offset + 1;
  }

  settle(offset: number): void {
    this.settled.add(offset);
    while (this.head < this.taken.length && this.settled.has(this.taken[this.head])) {
      this.settled.delete(this.taken[this.head]);
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.taken.length) {
      this.taken.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * The partition is read again from `offset` (a nack): records taken from there on are
   * dropped (they come again); the ones before it stay tracked, so a commit never passes them.
   */
  rewind(offset: number): void {
    while (this.taken.length > this.head && this.taken[this.taken.length - 1] >= offset) this.settled.delete(this.taken.pop()!);
    this.next = offset;
  }

  /** Records taken and not settled yet. */
  get unsettled(): number {
    return this.taken.length - this.head;
  }

  /** One past the newest record taken (-1 before the first). */
  get position(): number {
    return this.next;
  }

  /** The offset to commit now, or undefined when nothing new may be committed. */
  committable(): number | undefined {
    const at = this.head < this.taken.length ? this.taken[this.head] : this.next;
    return at > this.committed ? at : undefined;
  }
}
