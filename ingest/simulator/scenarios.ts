import type { Category, Level } from '../../core/anomaly.js';
import type { Catalogue } from '../../core/catalogue.js';
import { sign } from '../../core/signature.js';
import type { Sector } from '../../core/types.js';
import type { SimDevice } from './fleet.js';
import { prng, ReadingGenerator } from './readings.js';

const MIN = 60_000;

/** Update cycle of a message type, ms. */
export type Cadence = (sector: Sector, messageType: string) => number;

/** The catalogue's update cycles (`CatalogueEntry.updateCycleMs`). */
export function catalogueCadence(catalogue: Catalogue): Cadence {
  return (sector, messageType) => {
    const entry = catalogue.byType.get(`${sector}/${messageType}`);
    if (!entry) throw new Error(`message type ${sector}/${messageType} is not in the catalogue`);
    return entry.updateCycleMs;
  };
}

/** One injected signal as written to the ground-truth file. */
export interface TruthEntry {
  scenario: string;
  /** The `detector.kind` the scenario must raise. */
  kind: string;
  /** Other kinds the same injection rightly raises too (not false positives). */
  also: string[];
  category: Category;
  level: Level;
  sector: string;
  region: string;
  /** Devices injected; empty for a region-wide signal. */
  devices: string[];
  /** Event-time window of the injection, ms. */
  start: number;
  end: number;
}

export interface Truth {
  seed: number;
  start: number;
  end: number;
  scenarios: TruthEntry[];
}

type Data = Record<string, number | string | boolean>;
/** A message to publish; `at` orders them (event time of the normal flow). */
export interface ScenarioMessage {
  at: number;
  topic: string;
  payload: string;
}

interface Ctx {
  at(offsetMin: number): number;
  dev(id: string): SimDevice;
  /** Changes the device's normal messages of `type` between two offsets. */
  alter(id: string, type: string, fromMin: number, toMin: number, change: (d: Data) => Data | null): void;
  /** Extra messages, built when the normal flow reaches `atMin`. */
  extra(atMin: number, build: () => { device: SimDevice; type: string; t: number; data?: Data; opts?: SendOpts }[]): void;
  history(id: string): { t: number; topic: string; payload: string }[];
}
interface SendOpts {
  topic?: string;
  badSig?: boolean;
  ts?: number;
  seq?: number;
  raw?: string;
}

interface Scenario {
  name: string;
  truth: Omit<TruthEntry, 'scenario' | 'start' | 'end'> & { fromMin: number; toMin: number };
  inject(c: Ctx): void;
}

const bump = (field: string, by: number, digits = 3) => (d: Data) => ({ ...d, [field]: Math.round(((d[field] as number) + by) * 10 ** digits) / 10 ** digits });

/**
 * The labelled scenarios: every processor's signal, on chosen devices at known times. Offsets are
 * minutes from the start of a 2-hour run; the first 45 minutes are normal (warm-up).
 */
export const SCENARIOS: Scenario[] = [
  { name: 'range', truth: { kind: 'range.physical', also: ['silence.device'], category: 'device-fault', level: 4, sector: 'iiot', region: '220100', devices: ['mach-220100-0001'], fromMin: 50, toMin: 51 }, inject: (c) => c.alter('mach-220100-0001', 'machine', 50, 51, (d) => ({ ...d, temperature: 500 })) },
  {
    name: 'spike',
    truth: { kind: 'spike.spike', also: [], category: 'device-fault', level: 4, sector: 'iiot', region: '220200', devices: ['mach-220200-0001'], fromMin: 50, toMin: 61 },
    inject: (c) => [50, 55, 60].forEach((m) => c.alter('mach-220200-0001', 'machine', m, m + 1 / 6, bump('vibration_rms', 2))),
  },
  { name: 'level_shift', truth: { kind: 'spike.level_shift', also: ['spike.spike', 'range.operating'], category: 'device-fault', level: 4, sector: 'energy', region: '220300', devices: ['meter-220300-0001'], fromMin: 50, toMin: 70 }, inject: (c) => c.alter('meter-220300-0001', 'meter', 50, 70, bump('frequency', 0.2, 2)) },
  { name: 'rate', truth: { kind: 'rate.too_fast', also: ['spike.spike'], category: 'device-fault', level: 4, sector: 'agri', region: '220100', devices: ['soil-220100-0001'], fromMin: 55, toMin: 66 }, inject: (c) => c.alter('soil-220100-0001', 'soil', 55, 65, bump('temperature', 20, 1)) },
  { name: 'flatline', truth: { kind: 'flatline.stuck', also: ['spike.spike', 'spike.level_shift'], category: 'device-fault', level: 4, sector: 'iiot', region: '220300', devices: ['mach-220300-0001'], fromMin: 60, toMin: 75 }, inject: (c) => {
      let stuck: number | undefined; // the sensor freezes at its last value
      c.alter('mach-220300-0001', 'machine', 60, 75, (d) => ({ ...d, temperature: (stuck ??= d.temperature as number) }));
    } },
  { name: 'silence', truth: { kind: 'silence.device', also: [], category: 'device-fault', level: 4, sector: 'energy', region: '220200', devices: ['meter-220200-0002'], fromMin: 60, toMin: 75 }, inject: (c) => c.alter('meter-220200-0002', 'meter', 60, 75, () => null) },
  {
    name: 'replay',
    truth: { kind: 'replay.replay', also: [], category: 'network-attack', level: 3, sector: 'energy', region: '220100', devices: ['meter-220100-0002'], fromMin: 65, toMin: 66 },
    inject: (c) =>
      c.extra(65, () =>
        c
          .history('meter-220100-0002')
          .filter((m) => m.t >= c.at(35) && m.t < c.at(40))
          .map((m) => ({ device: c.dev('meter-220100-0002'), type: 'meter', t: c.at(65), opts: { raw: m.payload } })),
      ),
  },
  {
    name: 'forgery',
    truth: { kind: 'forgery.bad_signature', also: [], category: 'network-attack', level: 3, sector: 'energy', region: '220200', devices: ['meter-220200-0003'], fromMin: 70, toMin: 73 },
    inject: (c) => c.extra(70, () => [0, 1, 2].map((i) => ({ device: c.dev('meter-220200-0003'), type: 'meter', t: c.at(70 + i), opts: { badSig: true } }))),
  },
  {
    name: 'unknown_device',
    truth: { kind: 'forgery.unknown_device', also: [], category: 'network-attack', level: 3, sector: 'energy', region: '220100', devices: ['meter-220100-9999'], fromMin: 75, toMin: 78 },
    inject: (c) => c.extra(75, () => [0, 1, 2].map((i) => ({ device: { ...c.dev('meter-220100-0001'), id: 'meter-220100-9999', key: undefined }, type: 'meter', t: c.at(75 + i) }))),
  },
  {
    name: 'foreign_device',
    truth: { kind: 'forgery.foreign_device', also: [], category: 'network-attack', level: 4, sector: 'agri', region: '220300', devices: ['soil-220200-0001'], fromMin: 75, toMin: 77 },
    inject: (c) => c.extra(75, () => [0, 1].map((i) => ({ device: c.dev('soil-220200-0001'), type: 'soil', t: c.at(75 + i), opts: { topic: 'jl/agri/220300/soil-220200-0001/soil' } }))),
  },
  {
    name: 'flood',
    truth: { kind: 'flood.device', also: ['flood.region'], category: 'network-attack', level: 4, sector: 'v2x', region: '220200', devices: ['rsu-220200-0001'], fromMin: 80, toMin: 81 },
    inject: (c) => c.extra(80, () => Array.from({ length: 300 }, (_, i) => ({ device: c.dev('rsu-220200-0001'), type: 'rsu_status', t: c.at(80) + i * 10 }))),
  },
  { name: 'gps_spoof', truth: { kind: 'v2x.position_jump', also: [], category: 'network-attack', level: 3, sector: 'v2x', region: '220100', devices: ['rsu-220100-0001'], fromMin: 80, toMin: 81 }, inject: (c) => c.alter('rsu-220100-0001', 'bsm', 80, 80.02, bump('lat', 0.05, 7)) },
  {
    name: 'power_mismatch',
    truth: { kind: 'energy.power_mismatch', also: [], category: 'data-security', level: 3, sector: 'energy', region: '220300', devices: ['meter-220300-0002'], fromMin: 85, toMin: 88 },
    inject: (c) => c.alter('meter-220300-0002', 'meter', 85, 88, (d) => ({ ...d, active_power: Math.round((d.active_power as number) * 3000) / 1000 })),
  },
  { name: 'counter_decrease', truth: { kind: 'energy.counter_decrease', also: [], category: 'data-security', level: 3, sector: 'energy', region: '220100', devices: ['meter-220100-0004'], fromMin: 85, toMin: 86 }, inject: (c) => c.alter('meter-220100-0004', 'meter', 85, 86, bump('energy_total', -100, 2)) },
  {
    name: 'operating_range',
    truth: { kind: 'range.operating', also: ['spike.spike', 'spike.level_shift', 'energy.power_mismatch'], category: 'device-fault', level: 4, sector: 'energy', region: '220200', devices: ['meter-220200-0004'], fromMin: 88, toMin: 93 },
    inject: (c) => c.alter('meter-220200-0004', 'meter', 88, 93, bump('voltage_a', 40, 1)),
  },
  {
    name: 'region_outage',
    truth: { kind: 'silence.region', also: ['silence.device'], category: 'device-fault', level: 2, sector: 'energy', region: '220300', devices: [], fromMin: 95, toMin: 115 },
    inject: (c) => {
      for (const id of ['meter-220300-0001', 'meter-220300-0002', 'meter-220300-0003', 'meter-220300-0004']) c.alter(id, 'meter', 95, 115, () => null);
      c.alter('heat-220300-0001', 'heat', 95, 115, () => null);
    },
  },
  {
    name: 'future_ts',
    truth: { kind: 'replay.future_ts', also: [], category: 'network-attack', level: 3, sector: 'energy', region: '220200', devices: ['meter-220200-0001'], fromMin: 118, toMin: 135 },
    inject: (c) => c.extra(118, () => [{ device: c.dev('meter-220200-0001'), type: 'meter', t: c.at(118), opts: { ts: Date.now() + 2 * 3_600_000 } }]),
  },
];

/** The devices a scenario run drives: 11 per region in three regions, all kinds. */
export const SCENARIO_DEVICES = ['220100', '220200', '220300'].flatMap((r) => [
  `soil-${r}-0001`, `soil-${r}-0002`, `wx-${r}-0001`, `rsu-${r}-0001`, `meter-${r}-0001`, `meter-${r}-0002`, `meter-${r}-0003`, `meter-${r}-0004`, `heat-${r}-0001`, `mach-${r}-0001`, `mach-${r}-0002`,
]);

/**
 * Builds a scenario run: two hours of a fleet's normal traffic ending `endMs` (event time, at
 * each type's catalogue cadence, signed where keyed) with the chosen scenarios injected, and the
 * ground truth. Deterministic for a seed and end time.
 */
export function buildScenarioRun(fleet: SimDevice[], names: string[], opts: { seed: number; endMs: number; spanMs?: number; cadence: Cadence; devices?: string[] }): { messages: ScenarioMessage[]; truth: Truth } {
  const span = opts.spanMs ?? 120 * MIN;
  const start = opts.endMs - span;
  // No names: normal traffic only (the quiet-days check).
  const chosen = names.includes('all') ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name));
  if ((names.length && !chosen.length) || chosen.length < names.filter((n) => n !== 'all').length) throw new Error(`unknown scenario in ${names.join(',')}; known: all, ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const byId = new Map(fleet.map((d) => [d.id, d]));
  const devices = (opts.devices ?? SCENARIO_DEVICES).map((id) => {
    const d = byId.get(id);
    if (!d) throw new Error(`scenario device ${id} is not in the registry (use a fleet from makeFleet with >= 198 devices)`);
    return d;
  });
  const rand = prng(opts.seed);
  const gen = new ReadingGenerator(prng(opts.seed + 1));
  const at = (m: number) => start + Math.round(m * MIN);
  const alters: { id: string; type: string; from: number; to: number; change: (d: Data) => Data | null }[] = [];
  const extras: { at: number; build: Parameters<Ctx['extra']>[1] }[] = [];
  const hist = new Map<string, { t: number; topic: string; payload: string }[]>();
  const ctx: Ctx = {
    at,
    dev: (id) => byId.get(id) ?? (() => { throw new Error(`no device ${id}`); })(),
    alter: (id, type, fromMin, toMin, change) => alters.push({ id, type, from: at(fromMin), to: at(toMin), change }),
    extra: (atMin, build) => extras.push({ at: at(atMin), build }),
    history: (id) => hist.get(id) ?? [],
  };
  for (const s of chosen) s.inject(ctx);

  const seq = new Map<string, number>();
  const last = new Map<string, number>();
  const messages: ScenarioMessage[] = [];
  /** The device's normal data at `t`, continuing from its previous message of that type. */
  const normal = (d: SimDevice, type: string, t: number): Data => {
    const dt = (t - (last.get(`${d.id}|${type}`) ?? t - opts.cadence(d.sector, type))) / 1000;
    last.set(`${d.id}|${type}`, t);
    return gen.data(d, type, t, dt);
  };
  const emit = (d: SimDevice, type: string, t: number, data: Data | undefined, o: SendOpts = {}) => {
    const topic = o.topic ?? `jl/${d.sector}/${d.region}/${d.id}/${type}`;
    if (o.raw) return messages.push({ at: t, topic, payload: o.raw });
    const body = data ?? normal(d, type, t);
    const n = o.seq ?? (seq.get(d.id) ?? 0) + 1;
    seq.set(d.id, Math.max(n, seq.get(d.id) ?? 0));
    const payload: Record<string, unknown> = { ts: o.ts ?? t, seq: n, data: body };
    if (d.key) payload.sig = o.badSig ? 'ab'.repeat(32) : sign(Buffer.from(d.key, 'hex'), topic, payload);
    const text = JSON.stringify(payload);
    messages.push({ at: t, topic, payload: text });
    const h = hist.get(d.id) ?? [];
    h.push({ t, topic, payload: text });
    hist.set(d.id, h);
  };

  // The normal flow, in event-time order, with each device's phase jittered.
  const next: { t: number; d: SimDevice; type: string; cycle: number }[] = [];
  for (const d of devices) {
    for (const type of d.types) {
      const cycle = opts.cadence(d.sector, type);
      next.push({ t: start + Math.floor(rand() * cycle), d, type, cycle });
    }
  }
  extras.sort((a, b) => a.at - b.at);
  for (;;) {
    next.sort((a, b) => a.t - b.t);
    const n = next[0];
    if (n.t >= opts.endMs) break;
    while (extras.length && extras[0].at <= n.t) for (const e of extras.shift()!.build()) emit(e.device, e.type, e.t, e.data, e.opts);
    const alter = alters.find((a) => a.id === n.d.id && a.type === n.type && n.t >= a.from && n.t < a.to);
    if (alter) {
      const changed = alter.change(normal(n.d, n.type, n.t));
      if (changed) emit(n.d, n.type, n.t, changed);
    } else emit(n.d, n.type, n.t, undefined);
    n.t += n.cycle;
  }
  for (const e of extras) for (const m of e.build()) emit(m.device, m.type, m.t, m.data, m.opts);

  const truth: Truth = {
    seed: opts.seed,
    start,
    end: opts.endMs,
    scenarios: chosen.map(({ name, truth: { fromMin, toMin, ...t } }) => ({ scenario: name, ...t, start: at(fromMin), end: at(toMin) })),
  };
  return { messages, truth };
}
