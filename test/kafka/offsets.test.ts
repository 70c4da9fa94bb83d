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
});
