import { describe, expect, it } from 'vitest';
import { PartitionClock } from '../../app/roles/partition-clock.js';

const NOW = 10_000_000; // wall time; event times below are in the past, as in a replay

describe('PartitionClock: each partition keeps its own event time', () => {
  it('judges a slow partition by its own event time, not by the fastest one', () => {
    const c = new PartitionClock();
    c.saw(0, 10_000, NOW); // a backlog, far behind
    c.saw(1, 500_000, NOW); // further on
    expect(c.watermark(0, NOW)).toBe(10_000);
    expect(c.watermark(1, NOW)).toBe(500_000);
  });

  it('moves a quiet partition on by wall time, never past the wall clock', () => {
    const c = new PartitionClock();
    c.saw(0, 10_000, NOW);
    expect(c.watermark(0, NOW + 3000)).toBe(13_000); // 3 s without a record: 3 s of absence
    c.saw(2, NOW - 1000, NOW);
    expect(c.watermark(2, NOW + 5000)).toBe(NOW + 4000);
    c.saw(3, NOW + 60_000, NOW); // a device clock ahead of the wall
    expect(c.watermark(3, NOW)).toBe(NOW);
  });

  it('starts a partition taken over where its previous owner left it, and forgets lost ones', () => {
    const c = new PartitionClock();
    c.saw(0, 10_000, NOW);
    c.assigned([1], (p) => (p === 1 ? { event: 20_000, at: NOW - 1000 } : undefined));
    expect(c.watermark(0, NOW)).toBeUndefined();
    expect(c.watermark(1, NOW)).toBe(21_000); // checkpointed 1 s ago: 1 s of absence since
    expect(c.watermark(3, NOW)).toBeUndefined();
  });

  it('says when a partition\'s event time has moved a tick on, for each partition apart', () => {
    const c = new PartitionClock();
    c.saw(0, 10_000, NOW);
    c.saw(1, 90_000, NOW);
    expect(c.advanced(0, 1000)).toBe(true);
    expect(c.advanced(0, 1000)).toBe(false);
    c.saw(0, 10_500, NOW);
    expect(c.advanced(0, 1000)).toBe(false);
    c.saw(0, 11_000, NOW);
    expect(c.advanced(0, 1000)).toBe(true);
    expect(c.advanced(1, 1000)).toBe(true); // partition 1 counts on its own
    expect(c.advanced(7, 1000)).toBe(false);
  });
});
