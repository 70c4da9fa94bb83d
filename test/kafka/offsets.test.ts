import { describe, expect, it } from 'vitest';
import { PartitionOffsets } from '../../kafka/offsets.js';

describe('PartitionOffsets: what a consumer may commit', () => {
  it('never commits past a record that is not settled, whatever order they settle in', () => {
    const p = new PartitionOffsets();
    for (const o of [10, 11, 12, 13]) p.take(o);
    expect(p.committable()).toBe(10);
    p.settle(12);
    p.settle(11);
    expect(p.committable()).toBe(10); // 10 is not durable yet
    p.settle(10);
    expect(p.committable()).toBe(13);
    p.committed = 13;
    expect(p.committable()).toBeUndefined();
    p.settle(13);
    expect(p.committable()).toBe(14); // one past the newest taken
    expect(p.unsettled).toBe(0);
  });

  it('follows gaps in the offsets (compacted or transactional topics)', () => {
    const p = new PartitionOffsets();
    p.take(5);
    p.take(9);
    p.settle(9);
    expect(p.committable()).toBe(5);
    p.settle(5);
    expect(p.committable()).toBe(10);
  });

  it('keeps working over many records (its queue is trimmed)', () => {
    const p = new PartitionOffsets();
    for (let o = 0; o < 20_000; o++) {
      p.take(o);
      p.settle(o);
    }
    expect(p.unsettled).toBe(0);
    expect(p.committable()).toBe(20_000);
  });

  it('a rewind (nack) drops the later records but keeps the earlier unsettled ones', () => {
    const p = new PartitionOffsets();
    for (const o of [1, 2, 3, 4, 5]) p.take(o);
    p.settle(2);
    p.settle(4);
    p.rewind(3); // 3, 4, 5 come again
    expect(p.committable()).toBe(1); // 1 is still not durable
    p.settle(1);
    expect(p.committable()).toBe(3);
    p.take(3);
    expect(p.committable()).toBe(3);
    p.settle(3);
    expect(p.committable()).toBe(4);
  });
});
