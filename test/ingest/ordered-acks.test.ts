import { describe, expect, it } from 'vitest';
import { OrderedAcks } from '../../ingest/mqtt/ordered-acks.js';

describe('ordered PUBACKs', () => {
  it('sends acks in arrival order whatever order stages finish in', () => {
    const sent: number[] = [];
    const acks = new OrderedAcks((id) => sent.push(id));
    const [a, b, c] = [acks.track(1), acks.track(2), acks.track(3)];
    c();
    b();
    expect(sent).toEqual([]);
    a();
    expect(sent).toEqual([1, 2, 3]);
    expect(acks.pending).toBe(0);
  });

  it('never sends a stale ack after the connection was lost', () => {
    const sent: number[] = [];
    const acks = new OrderedAcks((id) => sent.push(id));
    const old = acks.track(7);
    acks.reset();
    const fresh = acks.track(7); // the broker may reuse the packet id
    old();
    expect(sent).toEqual([]);
    fresh();
    fresh();
    expect(sent).toEqual([7]);
  });
});
