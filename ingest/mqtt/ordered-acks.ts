/**
 * Releases PUBACKs in the order the PUBLISHes arrived (MQTT 3.1.1 §4.6), however the stages
 * finish. `track` opens a slot and returns its ack; a slot's PUBACK goes out once it and every
 * earlier slot are done. `reset` forgets everything on a lost connection: the broker will
 * redeliver those messages, and a stale PUBACK must never hit a reused packet id.
 */
export class OrderedAcks {
  private slots: { id: number; done: boolean }[] = [];
  private generation = 0;

  constructor(private readonly send: (messageId: number) => void) {}

  track(messageId: number): () => void {
    const slot = { id: messageId, done: false };
    const gen = this.generation;
    this.slots.push(slot);
    return () => {
      if (gen !== this.generation || slot.done) return;
      slot.done = true;
      let n = 0;
      while (n < this.slots.length && this.slots[n].done) this.send(this.slots[n++].id);
      if (n) this.slots.splice(0, n);
    };
  }

  get pending(): number {
    return this.slots.length;
  }

  reset(): void {
    this.generation++;
    this.slots = [];
  }
}
