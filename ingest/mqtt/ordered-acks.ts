/**
 * Releases PUBACKs in the order the PUBLISHes arrived (MQTT 3.1.1 §4.6), however the stages
 * finish. `track` opens a slot and returns its ack; a slot's PUBACK goes out once it and every
 * earlier slot are done. `reset` forgets everything on a lost connection: the broker will
 * redeliver those messages, and a stale PUBACK must never hit a reused packet id.
 *
 * Slots live in an array consumed from `head`, compacted now and then, so releasing a batch
 * of n acks costs O(n), not O(n²).
 */
export class OrderedAcks {
  private slots: { id: number; done: boolean }[] = [];
  private head = 0;
  private generation = 0;

  constructor(private readonly send: (messageId: number) => void) {}

  track(messageId: number): () => void {
    const slot = { id: messageId, done: false };
    const gen = this.generation;
    this.slots.push(slot);
    return () => {
      if (gen !== this.generation || slot.done) return;
      slot.done = true;
      while (this.head < this.slots.length && this.slots[this.head].done) this.send(this.slots[this.head++].id);
      if (this.head > 1024 && this.head * 2 > this.slots.length) {
        this.slots = this.slots.slice(this.head);
        this.head = 0;
      }
    };
  }

  get pending(): number {
    return this.slots.length - this.head;
  }

  reset(): void {
    this.generation++;
    this.slots = [];
    this.head = 0;
  }
}
