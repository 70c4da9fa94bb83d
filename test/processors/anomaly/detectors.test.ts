import { describe, expect, it } from 'vitest';
import type { SimDevice } from '../../../ingest/simulator/fleet.js';
import { Harness, type Data } from './harness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/**
 * One data-driven case per signal: a device of the named kind runs normally (warm-up), then the
 * signal is injected, then it runs normally again. The case must raise `expect` on that device,
 * and nothing outside `expect` + `also` (signals that the same injection rightly trips too).
 */
interface Case {
  name: string;
  kind: string;
  type: string;
  warmupMs: number;
  /** Injects the signal; returns the anomaly kinds expected on the device. */
  inject(h: Harness, d: SimDevice, t: number): void;
  expect: string[];
  also?: string[];
}

const bump = (field: string, by: number) => (data: Data) => ({ ...data, [field]: Math.round(((data[field] as number) + by) * 1000) / 1000 });

/** Sends `n` messages at the type's cadence from `t`, each changed by `change`. */
function inject(h: Harness, d: SimDevice, type: string, t: number, n: number, change: (data: Data, i: number) => Data) {
  const cycle = h.cycleMs(type, d.sector);
  for (let i = 0; i < n; i++) h.send(d, type, t + i * cycle, change(h.normal(d, type, t + i * cycle), i));
  return t + n * cycle;
}

const cases: Case[] = [
  { name: 'range: a value beyond the physical range', kind: 'mach', type: 'machine', warmupMs: 10 * MIN, inject: (h, d, t) => inject(h, d, 'machine', t, 1, (x) => ({ ...x, temperature: 500 })), expect: ['range.physical'] },
  { name: 'range: supply voltage outside GB/T 12325 limits', kind: 'meter', type: 'meter', warmupMs: 60 * MIN, inject: (h, d, t) => inject(h, d, 'meter', t, 4, bump('voltage_a', 40)), expect: ['range.operating'], also: ['spike.spike', 'spike.level_shift', 'energy.power_mismatch'] },
  { name: 'spike: one vibration reading far off', kind: 'mach', type: 'machine', warmupMs: 30 * MIN, inject: (h, d, t) => inject(h, d, 'machine', t, 1, bump('vibration_rms', 2)), expect: ['spike.spike'] },
  { name: 'level shift: grid frequency steps up within limits', kind: 'meter', type: 'meter', warmupMs: 2 * HOUR, inject: (h, d, t) => inject(h, d, 'meter', t, 30, bump('frequency', 0.15)), expect: ['spike.level_shift'], also: ['spike.spike'] },
  { name: 'rate: soil temperature jumps 20 degrees in one cycle', kind: 'soil', type: 'soil', warmupMs: 12 * HOUR, inject: (h, d, t) => inject(h, d, 'soil', t, 1, bump('temperature', 20)), expect: ['rate.too_fast'], also: ['spike.spike'] },
  { name: 'flatline: machine temperature stuck', kind: 'mach', type: 'machine', warmupMs: 10 * MIN, inject: (h, d, t) => inject(h, d, 'machine', t, 20, (x) => ({ ...x, temperature: 47.3 })), expect: ['flatline.stuck'] },
  {
    name: 'replay: an earlier message sent again',
    kind: 'meter',
    type: 'meter',
    warmupMs: 30 * MIN,
    inject: (h, d, t) => {
      const old = t - 20 * MIN;
      h.send(d, 'meter', t, h.normal(d, 'meter', t));
      h.send(d, 'meter', t + MIN, h.normal(d, 'meter', old), { seq: 3, ts: old });
    },
    expect: ['replay.replay'],
  },
  { name: 'replay: a timestamp in the future', kind: 'meter', type: 'meter', warmupMs: 10 * MIN, inject: (h, d, t) => h.send(d, 'meter', t, h.normal(d, 'meter', t), { ts: t + 2 * HOUR }), expect: ['replay.future_ts'] },
  { name: 'forgery: a wrong signature', kind: 'meter', type: 'meter', warmupMs: 10 * MIN, inject: (h, d, t) => h.send(d, 'meter', t, h.normal(d, 'meter', t), { badSig: true }), expect: ['forgery.bad_signature'] },
  { name: 'spoofing: a registered device on a foreign region', kind: 'soil', type: 'soil', warmupMs: HOUR, inject: (h, d, t) => h.send(d, 'soil', t, h.normal(d, 'soil', t), { topic: `jl/agri/220200/${d.id}/soil` }), expect: ['forgery.foreign_device'] },
  { name: 'flood: a roadside unit sends 20x its rate', kind: 'rsu', type: 'rsu_status', warmupMs: 10 * MIN, inject: (h, d, t) => { for (let i = 0; i < 300; i++) h.send(d, 'rsu_status', t + i * 200, h.normal(d, 'rsu_status', t + i * 200)); }, expect: ['flood.device'], also: ['flood.region'] },
  { name: 'v2x: a vehicle jumps 5 km in one second', kind: 'rsu', type: 'bsm', warmupMs: 5 * MIN, inject: (h, d, t) => inject(h, d, 'bsm', t, 1, (x) => ({ ...x, lat: Math.round(((x.lat as number) + 0.05) * 1e7) / 1e7 })), expect: ['v2x.position_jump'] },
  { name: 'energy: active power inconsistent with V x I x PF', kind: 'meter', type: 'meter', warmupMs: 10 * MIN, inject: (h, d, t) => inject(h, d, 'meter', t, 1, (x) => ({ ...x, active_power: Math.round((x.active_power as number) * 3 * 1000) / 1000 })), expect: ['energy.power_mismatch'] },
  { name: 'energy: the energy counter goes down', kind: 'meter', type: 'meter', warmupMs: 10 * MIN, inject: (h, d, t) => inject(h, d, 'meter', t, 1, bump('energy_total', -100)), expect: ['energy.counter_decrease'] },
];

describe('anomaly processors: each fires on its signal', () => {
  for (const c of cases) {
    it(c.name, () => {
      const h = new Harness();
      const d = h.device(c.kind);
      const types = c.type === 'bsm' ? ['bsm'] : [c.type];
      const only = { ...d, types };
      let t = h.run([only], h.clock, c.warmupMs);
      expect(h.kinds(d.id)).toEqual([]); // quiet during warm-up
      c.inject(h, d, t);
      t += 30 * MIN;
      h.run([only], t, 10 * MIN);
      const kinds = h.kinds(d.id);
      for (const k of c.expect) expect(kinds).toContain(k);
      for (const k of kinds) expect([...c.expect, ...(c.also ?? [])]).toContain(k);
    });
  }

  it('spike: the anomaly says which view fired, how unlikely, and against which baseline', () => {
    const h = new Harness();
    const d = { ...h.device('mach'), types: ['machine'] };
    const t = h.run([d], h.clock, 30 * MIN);
    const normal = h.normal(d, 'machine', t);
    inject(h, d, 'machine', t, 1, bump('vibration_rms', 2));
    const a = h.anomalies.find((x) => x.detector === 'spike')!;
    expect(a).toMatchObject({ kind: 'spike', field: 'vibration_rms', evidence: { view: 'level' } });
    expect(a.evidence!.likelihood).toBeLessThan(1e-15);
    expect(Math.abs(a.evidence!.expected - (normal.vibration_rms as number))).toBeLessThan(0.5);
    expect(a.evidence!.z).toBeGreaterThan(6);
    expect(a.detail).toMatch(/^spike in vibration_rms: [\d.]+ is [\d.]+ noise units from the forecast [\d.]+ \(noise [\d.]+\); likelihood (1 in|under)/);
  });

  it('forgery: an unknown device', () => {
    const h = new Harness();
    const d = h.device('meter');
    h.send({ ...d, id: 'meter-220100-9999', key: undefined }, 'meter', h.clock, h.normal(d, 'meter', h.clock));
    expect(h.kinds('meter-220100-9999')).toEqual(['forgery.unknown_device']);
  });

  it('silence: a device that stops is silent after 3 update cycles, a region that stops is an outage', () => {
    const h = new Harness();
    const meters = h.fleet.filter((d) => d.kind === 'meter' && (d.region === '220100' || d.region === '220200'));
    let t = h.run(meters, h.clock, 20 * MIN);
    expect(h.kinds()).toEqual([]);
    const stopped = meters[0];
    t = h.run(meters, t, 10 * MIN, (d, _ty, _t, data) => (d.id === stopped.id ? null : data));
    expect(h.kinds(stopped.id)).toEqual(['silence.device']);
    expect(h.anomalies.filter((a) => a.detector === 'silence').map((a) => a.device)).toEqual([stopped.id]);
    // Now all of Changchun's meters stop; Jilin City's go on.
    h.run(meters, t, 10 * MIN, (d, _ty, _t, data) => (d.region === '220100' ? null : data));
    const region = h.anomalies.filter((a) => a.kind === 'region');
    expect(region.map((a) => `${a.detector}.${a.kind} ${a.sector}/${a.region}`)).toEqual(['silence.region energy/220100']);
    expect(region[0].regionWide).toBe(true);
  });

  it('a redelivered message (MQTT DUP) is not a replay', () => {
    const h = new Harness();
    const d = h.device('meter');
    const t = h.run([d], h.clock, 10 * MIN);
    const data = h.normal(d, 'meter', t);
    const seq = h.send(d, 'meter', t, data);
    h.send(d, 'meter', t, data, { seq, dup: true });
    expect(h.kinds(d.id)).toEqual([]);
    h.send(d, 'meter', t, data, { seq });
    expect(h.kinds(d.id)).toEqual(['replay.replay']);
  });

  it('event time: an out-of-order reading within the lateness is scored without bending the baseline; a later one is only counted', () => {
    const h = new Harness();
    const d = { ...h.device('mach'), types: ['machine'] };
    const t = h.run([d], h.clock, 30 * MIN);
    h.send(d, 'machine', t - 30_000, h.normal(d, 'machine', t - 30_000)); // 30 s late, normal
    h.send(d, 'machine', t - 20_000, bump('vibration_rms', 2)(h.normal(d, 'machine', t - 20_000))); // late spike
    expect(h.engine.stats().outOfOrder).toBe(2);
    expect(h.kinds(d.id)).toEqual(['spike.spike']);
    h.send(d, 'machine', t - 10 * MIN, bump('vibration_rms', 2)(h.normal(d, 'machine', t - 10 * MIN))); // beyond lateness
    expect(h.engine.stats().late).toBe(1);
    expect(h.anomalies.filter((a) => a.detector === 'spike')).toHaveLength(1);
  });

  it('state of devices silent longer than the TTL is dropped', () => {
    const h = new Harness((c) => (c.stateTtlMs = 2 * HOUR));
    const [a, b] = [h.device('mach', '220100', 1), h.device('mach', '220100', 2)].map((d) => ({ ...d, types: ['machine'] }));
    const t = h.run([a, b], h.clock, 10 * MIN);
    expect(h.engine.stats().devices).toBe(2);
    h.run([b], t, 3 * HOUR);
    expect(h.engine.stats().devices).toBe(1);
    expect(h.engine.stats().state.spike).toBe(1);
  });
});

describe('anomaly processors: quiet on normal simulated data', () => {
  it('fast devices (roadside units with vehicles, machines, meters) for 3 hours', () => {
    const h = new Harness();
    const devices = [h.device('rsu'), h.device('mach', '220100', 1), h.device('mach', '220300', 2), h.device('meter', '220100', 1), h.device('meter', '222400', 3)];
    h.run(devices, h.clock, 3 * HOUR);
    expect(h.rejected).toEqual([]);
    expect(h.anomalies.map((a) => `${a.device}: ${a.detector}.${a.kind} ${a.detail}`)).toEqual([]);
    expect(h.engine.stats().readings).toBeGreaterThan(15_000);
  });

  it('slow devices (soil, weather, heat, meters) for 3 days of daily cycles', () => {
    const h = new Harness();
    const devices = h.fleet.filter((d) => ['soil', 'wx', 'heat'].includes(d.kind) && ['220100', '220800'].includes(d.region)).concat(h.device('meter', '220500'));
    h.run(devices, h.clock, 72 * HOUR);
    expect(h.rejected).toEqual([]);
    expect(h.anomalies.map((a) => `${a.device}: ${a.detector}.${a.kind} ${a.detail}`)).toEqual([]);
  });
});
