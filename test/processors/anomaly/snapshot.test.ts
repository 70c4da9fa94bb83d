import { describe, expect, it } from 'vitest';
import type { Anomaly } from '../../../core/anomaly.js';
import type { Outcome } from '../../../core/types.js';
import type { SimDevice } from '../../../ingest/simulator/fleet.js';
import type { DeviceSnapshot } from '../../../processors/anomaly/engine.js';
import { Harness, type Data } from './harness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** What the engine was given: a message (with the clock then) or a tick. */
interface Event {
  clock: number;
  o?: Outcome;
}

/**
 * An uninterrupted run (engine A) that records what its engine is given, so the same stream can be
 * fed to other engines, and where the stream is cut for a hand-over.
 */
class Recording {
  readonly h = new Harness();
  readonly events: Event[] = [];
  /** Anomalies A had raised before each event. */
  private readonly before: number[] = [];
  private cutAt = -1;

  constructor() {
    const e = this.h.engine;
    const observe = e.observe.bind(e);
    const tick = e.tick.bind(e);
    let inside = false; // the engine's own ticks (from a reading) are not events
    e.observe = (o) => {
      this.push({ clock: this.h.clock, o });
      inside = true;
      try {
        observe(o);
      } finally {
        inside = false;
      }
    };
    e.tick = (now) => {
      if (!inside) this.push({ clock: now ?? this.h.clock });
      tick(now);
    };
  }

  private push(ev: Event) {
    this.before.push(this.h.anomalies.length);
    this.events.push(ev);
  }

  /** The partition changes owner here: before the next event. */
  cut() {
    this.cutAt = this.events.length;
  }

  get first() {
    return this.events.slice(0, this.cutAt);
  }

  get rest() {
    return this.events.slice(this.cutAt);
  }

  /** What A raised after the cut. */
  get after(): Anomaly[] {
    return this.h.anomalies.slice(this.before[this.cutAt]);
  }
}

function feed(h: Harness, events: Event[]) {
  for (const ev of events) {
    h.clock = ev.clock;
    if (ev.o) h.engine.observe(ev.o);
    else h.engine.tick(ev.clock);
  }
}

/** Device anomalies, comparable across engines (region ones sum over workers, not restored). */
const seen = (as: Anomaly[]) => as.filter((a) => a.device !== undefined).map((a) => `${a.detector}.${a.kind} ${a.device} @${a.eventMs}`);

/**
 * Engine B runs the first part and checkpoints the devices it touched (through JSON), engine C
 * restores them and runs the rest; engine D runs the rest with no restore.
 */
function handOver(r: Recording) {
  const b = new Harness();
  b.engine.trackChanges();
  feed(b, r.first);
  const snaps = new Map<string, unknown>();
  for (const id of b.engine.takeDirty()) {
    const s = b.engine.snapshotDevice(id);
    if (s) snaps.set(id, JSON.parse(JSON.stringify(s)));
  }
  expect(b.engine.takeDirty().size).toBe(0);
  const c = new Harness();
  c.clock = b.clock;
  for (const [id, s] of snaps) expect(c.engine.restoreDevice(id, s)).toBe(true);
  feed(c, r.rest);
  const d = new Harness();
  feed(d, r.rest);
  return { expected: seen(r.after), restored: seen(c.anomalies), fresh: seen(d.anomalies), snaps, c };
}

const only = (d: SimDevice, type: string): SimDevice => ({ ...d, types: [type] });
const bump = (field: string, by: number) => (data: Data) => ({ ...data, [field]: Math.round(((data[field] as number) + by) * 1000) / 1000 });

/** Sends `n` messages at the type's cadence from `t`, each changed by `change`. */
function inject(h: Harness, d: SimDevice, type: string, t: number, n: number, change: (data: Data) => Data) {
  const cycle = h.cycleMs(type, d.sector);
  for (let i = 0; i < n; i++) h.send(d, type, t + i * cycle, change(h.normal(d, type, t + i * cycle)));
  return t + n * cycle;
}

interface Case {
  name: string;
  /** Builds the stream on A, calling `r.cut()` where the partition changes owner. */
  build(r: Recording): void;
  /** Raised by A after the cut: the restore must carry them. */
  expect: string[];
}

const cases: Case[] = [
  {
    name: 'spike: a vibration spike just after the hand-over (a fresh engine is still warming up)',
    build(r) {
      const h = r.h;
      const d = only(h.device('mach'), 'machine');
      const t = h.run([d], h.clock, 40 * MIN);
      r.cut();
      h.run([d], inject(h, d, 'machine', t, 1, bump('vibration_rms', 2)), 10 * MIN);
    },
    expect: ['spike.spike'],
  },
  {
    name: 'level shift: grid frequency steps up, the hand-over falls inside the CUSUM build-up',
    build(r) {
      const h = r.h;
      const d = only(h.device('meter'), 'meter');
      let t = h.run([d], h.clock, 2 * HOUR);
      t = inject(h, d, 'meter', t, 1, bump('frequency', 0.15));
      r.cut();
      t = inject(h, d, 'meter', t, 29, bump('frequency', 0.15));
      h.run([d], t, 10 * MIN);
    },
    expect: ['spike.level_shift'],
  },
  {
    name: 'flatline: a stuck temperature run that started before the hand-over',
    build(r) {
      const h = r.h;
      const d = only(h.device('mach'), 'machine');
      let t = h.run([d], h.clock, 10 * MIN);
      const stuck = (x: Data) => ({ ...x, temperature: 47.3 });
      t = inject(h, d, 'machine', t, 6, stuck);
      r.cut();
      t = inject(h, d, 'machine', t, 14, stuck);
      h.run([d], t, 5 * MIN);
    },
    expect: ['flatline.stuck'],
  },
  {
    name: 'replay: a message of before the hand-over sent again just after it',
    build(r) {
      const h = r.h;
      const d = only(h.device('meter'), 'meter');
      const t = h.run([d], h.clock, 30 * MIN);
      h.send(d, 'meter', t, h.normal(d, 'meter', t));
      r.cut();
      h.send(d, 'meter', t + MIN, h.normal(d, 'meter', t - 20 * MIN), { seq: 3, ts: t - 20 * MIN });
      h.run([d], t + 2 * MIN, 10 * MIN);
    },
    expect: ['replay.replay'],
  },
  {
    name: 'silence: a device stopping after the hand-over is noticed, one silent before it is not raised again',
    build(r) {
      const h = r.h;
      const meters = h.fleet.filter((d) => d.kind === 'meter' && d.region === '220100').slice(0, 5);
      const [early, late] = meters;
      let t = h.run(meters, h.clock, 20 * MIN);
      t = h.run(meters, t, 10 * MIN, (d, _ty, _t, data) => (d.id === early.id ? null : data));
      r.cut();
      h.run(meters, t, 10 * MIN, (d, _ty, _t, data) => (d.id === early.id || d.id === late.id ? null : data));
    },
    expect: ['silence.device'],
  },
  {
    name: 'rate: soil temperature jumps 20 degrees at the first reading after the hand-over',
    build(r) {
      const h = r.h;
      const d = only(h.device('soil'), 'soil');
      const t = h.run([d], h.clock, 12 * HOUR);
      r.cut();
      h.run([d], inject(h, d, 'soil', t, 1, bump('temperature', 20)), HOUR);
    },
    expect: ['rate.too_fast'],
  },
  {
    name: 'flood: a roadside unit floods across the hand-over (device window counts)',
    build(r) {
      const h = r.h;
      const d = only(h.device('rsu'), 'rsu_status');
      const t = h.run([d], h.clock, 10 * MIN);
      const at = Math.ceil(t / MIN) * MIN; // one flood window
      for (let i = 0; i < 200; i++) {
        if (i === 100) r.cut();
        h.send(d, 'rsu_status', at + i * 200, h.normal(d, 'rsu_status', at + i * 200));
      }
      h.run([d], at + MIN, 5 * MIN);
    },
    expect: ['flood.device'],
  },
  {
    name: 'energy: the energy counter goes down at the first reading after the hand-over',
    build(r) {
      const h = r.h;
      const d = only(h.device('meter'), 'meter');
      const t = h.run([d], h.clock, 10 * MIN);
      r.cut();
      h.run([d], inject(h, d, 'meter', t, 1, bump('energy_total', -100)), 10 * MIN);
    },
    expect: ['energy.counter_decrease'],
  },
  {
    name: 'v2x: a vehicle jumps 5 km at the first position after the hand-over',
    build(r) {
      const h = r.h;
      const d = only(h.device('rsu'), 'bsm');
      const t = h.run([d], h.clock, 5 * MIN);
      r.cut();
      h.run([d], inject(h, d, 'bsm', t, 1, (x) => ({ ...x, lat: Math.round(((x.lat as number) + 0.05) * 1e7) / 1e7 })), 2 * MIN);
    },
    expect: ['v2x.position_jump'],
  },
  {
    name: 'range: supply voltage outside the limits, two readings before and two after the hand-over',
    build(r) {
      const h = r.h;
      const d = only(h.device('meter'), 'meter');
      let t = h.run([d], h.clock, 60 * MIN);
      t = inject(h, d, 'meter', t, 2, bump('voltage_a', 40));
      r.cut();
      t = inject(h, d, 'meter', t, 2, bump('voltage_a', 40));
      h.run([d], t, 10 * MIN);
    },
    expect: ['range.operating'],
  },
];

describe('warm hand-over: per-device detector state survives a snapshot and restore', () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = new Recording();
      c.build(r);
      const { expected, restored, fresh } = handOver(r);
      const kinds = expected.map((a) => a.split(' ')[0]);
      for (const k of c.expect) expect(kinds).toContain(k);
      // The restored engine raises exactly what the uninterrupted one did after the cut...
      expect(restored).toEqual(expected);
      // ...and a cold one does not (missed or false anomalies): the restore is what matters.
      expect(fresh).not.toEqual(expected);
    });
  }

  it('region state is not a device snapshot: flood and silence carry only the device', () => {
    const r = new Recording();
    const h = r.h;
    const rsus = h.fleet.filter((d) => d.kind === 'rsu' && d.region === '220100').slice(0, 3);
    h.run(rsus, h.clock, 5 * MIN);
    const s = h.engine.snapshotDevice(rsus[0].id)!;
    expect((s.detectors.flood as [string, number, unknown][]).map(([k]) => k).sort()).toEqual(['v2x_bsm', 'v2x_rsu_status']);
    expect((s.detectors.silence as [string, number, unknown][]).map(([k]) => k)).toEqual(['']);
    expect(h.engine.snapshotDevice('nobody')).toBeUndefined();
  });
});

describe('warm hand-over: malformed snapshots are refused', () => {
  function warm() {
    const h = new Harness();
    const d = only(h.device('meter'), 'meter');
    h.run([d], h.clock, 40 * MIN);
    const snap = JSON.parse(JSON.stringify(h.engine.snapshotDevice(d.id))) as DeviceSnapshot;
    return { h, d, snap };
  }

  it('refuses bad shapes, and a bad detector part without changing anything', () => {
    const { d, snap } = warm();
    const c = new Harness();
    expect(c.engine.restoreDevice(d.id, snap)).toBe(true);
    const good = JSON.stringify(c.engine.snapshotDevice(d.id));
    expect(good).toEqual(JSON.stringify(snap));

    // A different snapshot (another device's spike state) whose replay part is broken: spike is
    // restored before replay, so this checks the all-or-nothing rollback.
    const other = new Harness();
    const m2 = only(other.device('meter', '220100', 2), 'meter');
    other.run([m2], other.clock, 10 * MIN);
    const bad = JSON.parse(JSON.stringify(other.engine.snapshotDevice(m2.id))) as DeviceSnapshot;
    const broken: unknown[] = [
      null,
      'snapshot',
      42,
      [],
      { ...snap, version: 2 },
      { ...snap, newest: 'yesterday' },
      { ...snap, newest: null },
      { version: 1, newest: snap.newest },
      { ...snap, detectors: [] },
      { ...bad, detectors: { ...bad.detectors, replay: [['', 1, { seq: 'x', t: 1 }]] } },
      { ...snap, detectors: { ...snap.detectors, spike: 5 } },
      { ...snap, detectors: { ...snap.detectors, spike: [['energy_meter', 1, [1, 2, 3]]] } }, // other fields' layout
      { ...snap, detectors: { ...snap.detectors, silence: [['', 1, { last: 1 }]] } },
      { ...snap, detectors: { ...snap.detectors, energy: [['energy_meter', 'x', {}]] } },
      { ...snap, detectors: { ...snap.detectors, energy: [['energy_meter', 1, { energy_total: 'a lot' }]] } },
    ];
    for (const s of broken) {
      expect(c.engine.restoreDevice(d.id, s)).toBe(false);
      expect(JSON.stringify(c.engine.snapshotDevice(d.id))).toEqual(good);
    }
    expect(c.engine.stats().errors).toBe(0);
  });

  it('ignores detectors it does not run, and clears those the snapshot does not name', () => {
    const { d, snap } = warm();
    const c = new Harness();
    const { energy: _energy, ...rest } = snap.detectors;
    expect(c.engine.restoreDevice(d.id, { ...snap, detectors: { ...rest, teleport: [['', 1, {}]] } })).toBe(true);
    const s = c.engine.snapshotDevice(d.id)!;
    expect(s.detectors.teleport).toBeUndefined();
    expect(s.detectors.energy).toBeUndefined();
    expect(s.detectors.spike).toEqual(snap.detectors.spike);
  });

  it('tells which devices changed since the last call, once asked to track them', () => {
    const untracked = new Harness();
    untracked.run([only(untracked.device('mach', '220100', 1), 'machine')], untracked.clock, 5 * MIN);
    expect(untracked.engine.takeDirty().size).toBe(0);
    const h = new Harness();
    h.engine.trackChanges();
    const [a, b] = [only(h.device('mach', '220100', 1), 'machine'), only(h.device('mach', '220100', 2), 'machine')];
    const t = h.run([a, b], h.clock, 5 * MIN);
    expect([...h.engine.takeDirty()].sort()).toEqual([a.id, b.id].sort());
    expect(h.engine.takeDirty().size).toBe(0);
    h.run([a], t, 20_000);
    expect([...h.engine.takeDirty()]).toEqual([a.id]);
    // b goes silent: the silence detector marked it, so it is to be checkpointed again.
    h.run([a], t + 20_000, 5 * MIN);
    expect([...h.engine.takeDirty()].sort()).toEqual([a.id, b.id].sort());
    // A checkpoint that did not go out: marked again.
    h.engine.markDirty(b.id);
    expect([...h.engine.takeDirty()]).toEqual([b.id]);
  });

  it('forgets a device another worker owns now: no state, no silence judged for it', () => {
    const h = new Harness();
    h.engine.trackChanges();
    const meters = h.fleet.filter((d) => d.kind === 'meter' && d.region === '220100').slice(0, 4).map((d) => only(d, 'meter'));
    const gone = meters[0];
    const t = h.run(meters, h.clock, 20 * MIN);
    h.engine.forgetDevice(gone.id);
    expect(h.engine.snapshotDevice(gone.id)).toBeUndefined();
    h.engine.markDirty(gone.id);
    expect(h.engine.takeDirty().has(gone.id)).toBe(false);
    h.run(meters.slice(1), t, 10 * MIN);
    expect(h.kinds(gone.id)).toEqual([]);
    expect(h.kinds()).toEqual([]);
  });
});
