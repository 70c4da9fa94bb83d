import { describe, expect, it } from 'vitest';
import { Rows, RowsByMeasurement } from '../../../processors/anomaly/rows.js';
import { isNum } from '../../../processors/anomaly/state.js';

const f64 = (n: number) => new Float64Array(n);

describe('Rows: fixed-width rows per device slot in shared typed arrays', () => {
  it('keeps each device its own numbers across chunks of 1,024 rows, for sparse slots too', () => {
    const t = new Rows(3, f64);
    // Slots far apart (a table for one measurement of a mixed fleet): rows stay dense.
    for (let i = 0; i < 3000; i++) {
      const r = t.row(i * 7, i, (d, o) => d.set([i, i * 2, i * 3], o));
      expect(r).toBe(i);
      expect(t.chunk(r)[t.offset(r) + 2]).toBe(i * 3);
    }
    expect(t.size).toBe(3000);
    for (const i of [0, 1023, 1024, 2047, 2999]) expect(t.values(t.peek(i * 7)!)).toEqual([i, i * 2, i * 3]);
    expect(t.peek(8)).toBeUndefined();
    expect(t.peek(-1)).toBeUndefined();
    // An existing row is not set again.
    const r = t.row(35, 10_000, (d, o) => d.fill(-1, o, o + 3));
    expect(t.values(r)).toEqual([5, 10, 15]);
    expect(t.touched(r)).toBe(10_000);
  });

  it('reuses an expired row for a new device, zeroed or set afresh, and says what it drops', () => {
    const t = new Rows(2, f64);
    t.row(4, 1, (d, o) => d.set([7, 8], o));
    t.row(9, 5, (d, o) => d.set([1, 2], o));
    const dropped: [number, number][] = [];
    t.expire(3, (slot, d, o) => dropped.push([slot, d[o]]));
    expect(dropped).toEqual([[4, 7]]);
    expect(t.peek(4)).toBeUndefined();
    const r = t.row(4, 6);
    expect(r).toBe(0); // the freed row
    expect(t.values(r)).toEqual([0, 0]);
    expect(t.values(t.peek(9)!)).toEqual([1, 2]);
    expect(t.size).toBe(2);
    expect([...t.slots()].sort()).toEqual([4, 9]);
  });
});

describe('RowsByMeasurement: snapshots by measurement', () => {
  const widths: Record<string, number> = { soil: 2, weather: 1 };
  const make = () => new RowsByMeasurement((m) => widths[m] ?? 0, f64);
  const decode = (j: unknown) => (Array.isArray(j) && j.every((x) => isNum(x, '') !== undefined) ? (j as number[]) : undefined);

  it('snapshots a device over its measurements and restores it elsewhere, replacing what was there', () => {
    const a = make();
    a.of('soil')!.set(0, 10, [1, 2]);
    a.of('weather')!.set(0, 11, [3]);
    a.of('soil')!.set(1, 12, [9, 9]);
    expect(a.size).toBe(2);
    const snap = JSON.parse(JSON.stringify(a.snapshot(0, (row) => row))) as unknown;
    expect(snap).toEqual([['soil', 10, [1, 2]], ['weather', 11, [3]]]);
    const b = make();
    b.of('soil')!.set(3, 1, [5, 5]);
    b.of('weather')!.set(3, 1, [5]);
    b.restore(3, snap, decode);
    expect(b.snapshot(3, (row) => row)).toEqual(snap);
    b.restore(3, [['soil', 10, [1, 2]]], decode);
    expect(b.snapshot(3, (row) => row)).toEqual([['soil', 10, [1, 2]]]);
    expect(b.size).toBe(1);
    expect(a.snapshot(7, (row) => row)).toBeUndefined();
  });

  it('refuses a row of the wrong width as a whole, and restores a measurement without state as none', () => {
    const b = make();
    b.of('soil')!.set(0, 1, [5, 5]);
    expect(() => b.restore(0, [['soil', 1, [1, 2, 3]]], decode)).toThrow(/malformed state of soil/);
    expect(b.of('soil')!.values(b.of('soil')!.peek(0)!)).toEqual([5, 5]);
    b.restore(0, [['gone', 1, [1]], ['soil', 2, [1, 2]]], decode);
    expect(b.snapshot(0, (row) => row)).toEqual([['soil', 2, [1, 2]]]);
  });
});
