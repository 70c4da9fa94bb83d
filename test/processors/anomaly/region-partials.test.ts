import { describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../../app/config.js';
import type { Anomaly } from '../../../core/anomaly.js';
import type { SimDevice } from '../../../ingest/simulator/fleet.js';
import type { DetectionConfig } from '../../../processors/anomaly/config.js';
import { floods } from '../../../processors/anomaly/flood/rules.js';
import { RegionAggregator } from '../../../processors/anomaly/region/aggregator.js';
import type { FloodPartial, RegionPartial } from '../../../processors/anomaly/region/partials.js';
import { Harness } from './harness.js';

const MIN = 60_000;
const REGION = '220100';
const WORKERS = 3;
const cfg = loadPipelineConfig(defaultConfigFile(), {}).detection;
const onPartials = (c: DetectionConfig) => {
  c.regionPartials = true;
};

/** The fields two region anomalies of the same signal share whoever raised them. */
const shape = (a: Anomaly) => ({ detector: a.detector, kind: a.kind, category: a.category, baseLevel: a.baseLevel, sector: a.sector, region: a.region, device: a.device, code: a.code, grade: a.grade, criticalInfrastructure: a.criticalInfrastructure, regionWide: a.regionWide });
const regionWide = (as: Anomaly[]) => as.filter((a) => a.kind === 'region');

/**
 * One fleet split over `WORKERS` engines by device (as Kafka partitions keyed by device would),
 * with region partials on, merged by a RegionAggregator; and one engine over all the devices
 * (region partials off) as the reference.
 */
class Scaled {
  readonly single = new Harness();
  readonly workers: Harness[];
  readonly aggregator: RegionAggregator;
  readonly merged: Anomaly[] = [];
  private readonly owner = new Map<string, Harness>();
  /** The partials last reported, per worker. */
  readonly reported: RegionPartial[][] = [];

  constructor(
    readonly devices: SimDevice[],
    ttlMs = 3000,
    workers = WORKERS,
  ) {
    this.workers = Array.from({ length: workers }, () => new Harness(onPartials));
    devices.forEach((d, i) => this.owner.set(d.id, this.workers[i % workers]));
    this.aggregator = new RegionAggregator(cfg, { ttlMs, clock: () => this.single.clock });
  }

  own(k: number): SimDevice[] {
    return this.devices.filter((d) => this.owner.get(d.id) === this.workers[k]);
  }

  /** Runs every device normally, in each worker and in the reference, for `ms` from `from`. */
  run(from: number, ms: number, mutate?: Parameters<Harness['run']>[3]): number {
    this.single.run(this.devices, from, ms, mutate);
    this.workers.forEach((h, k) => h.run(this.own(k), from, ms, mutate));
    return from + ms;
  }

  /** Sends one message to the reference and to the device's worker. */
  send(d: SimDevice, type: string, t: number): void {
    this.single.send(d, type, t, this.single.normal(d, type, t));
    const w = this.owner.get(d.id)!;
    w.send(d, type, t, w.normal(d, type, t));
  }

  /**
   * Each worker (or those in `alive`) reports its partials at its own clock (through JSON, as
   * over Kafka); the aggregator judges. `at` is the aggregator's (wall) clock.
   */
  report(at: number, alive = [...this.workers.keys()]): void {
    for (const k of alive) {
      const partials = JSON.parse(JSON.stringify(this.workers[k].engine.regionPartials(this.workers[k].clock))) as RegionPartial[];
      this.reported[k] = partials;
      this.aggregator.add(`worker-${k}`, partials, at);
    }
    this.aggregator.evaluate((a) => this.merged.push(a), at);
  }

  /** Region anomalies the workers raised themselves: none, they leave regions to the aggregator. */
  workerRegionAnomalies(): Anomaly[] {
    return this.workers.flatMap((h) => regionWide(h.anomalies));
  }
}

describe('region partials: region signals over several workers', () => {
  const meters = (h: Harness, region = REGION) => h.fleet.filter((d) => d.kind === 'meter' && d.region === region);

  /** Sends `k` meter messages per device inside the window starting at `t`, reporting every second (or never). */
  function burst(s: Scaled, t: number, k: number, report = true): void {
    const step = Math.floor((0.9 * cfg.flood.windowMs) / k);
    let lastReport = t;
    for (let i = 0; i < k; i++) {
      s.devices.forEach((d, j) => {
        const at = t + i * step + j * 10;
        if (report && at - lastReport >= 1000) s.report((lastReport = at));
        s.send(d, 'meter', at);
      });
    }
    if (report) s.report(t + cfg.flood.windowMs - 1);
  }

  /** The count `k` per device that makes a region flood of `fleet` in one window, though no device floods. */
  function justOver(probe: Harness, fleet: SimDevice[]): number {
    const perDevice = cfg.flood.windowMs / probe.cycleMs('meter', 'energy');
    const k = Math.floor((cfg.flood.factor * perDevice * fleet.length + cfg.flood.slack) / fleet.length) + 1;
    expect(floods(cfg.flood, k, perDevice)).toBe(false);
    expect(floods(cfg.flood, k * fleet.length, perDevice * fleet.length)).toBe(true);
    return k;
  }

  it('a region flood spread over 3 workers: one flood.region from the merged partials, as one engine over all devices raises', () => {
    const probe = new Harness();
    const fleet = meters(probe);
    const perDevice = cfg.flood.windowMs / probe.cycleMs('meter', 'energy');
    const regionLimit = cfg.flood.factor * perDevice * fleet.length + cfg.flood.slack;
    // Just over the region's limit, yet no device floods and no worker's share alone would.
    const k = Math.floor(regionLimit / fleet.length) + 1;
    expect(floods(cfg.flood, k, perDevice)).toBe(false);
    expect(floods(cfg.flood, k * fleet.length, perDevice * fleet.length)).toBe(true);

    const s = new Scaled(fleet);
    let t = s.run(s.single.clock, 10 * MIN);
    s.report(t);
    expect(regionWide(s.single.anomalies)).toEqual([]);
    expect(s.merged).toEqual([]);
    expect(t % cfg.flood.windowMs).toBe(0);
    burst(s, t, k);

    const single = regionWide(s.single.anomalies);
    expect(single.map((a) => `${a.detector}.${a.kind} ${a.sector}/${a.region}`)).toEqual([`flood.region energy/${REGION}`]);
    expect(s.workerRegionAnomalies()).toEqual([]);
    expect(s.merged).toHaveLength(1);
    expect(shape(s.merged[0])).toEqual(shape(single[0]));
    expect(Math.floor(s.merged[0].eventMs / cfg.flood.windowMs)).toBe(Math.floor(single[0].eventMs / cfg.flood.windowMs));
    expect(s.merged[0].value).toBe(k * fleet.length);
    // No worker's fragment floods on its own terms.
    const shares = s.reported.map((ps) => ps.find((p): p is FloodPartial => p.detector === 'flood' && p.region === REGION)!);
    expect(shares.map((p) => p.n).reduce((a, b) => a + b)).toBe(k * fleet.length);
    for (const p of shares) expect(floods(cfg.flood, p.n, p.expected)).toBe(false);
    expect(s.single.kinds().filter((x) => x.startsWith('flood'))).toEqual(['flood.region']); // no device flood

    // Once per window: reporting on in the same window raises nothing more; the next window is judged afresh.
    s.report(t + cfg.flood.windowMs - 1);
    expect(s.merged).toHaveLength(1);
    t += cfg.flood.windowMs;
    burst(s, t, k);
    expect(regionWide(s.single.anomalies)).toHaveLength(2);
    expect(s.merged).toHaveLength(2);
    expect(shape(s.merged[1])).toEqual(shape(regionWide(s.single.anomalies)[1]));
  });

  it('no region flood when neither a worker\'s share nor the sum exceeds the limit', () => {
    const probe = new Harness();
    const fleet = meters(probe);
    const perDevice = cfg.flood.windowMs / probe.cycleMs('meter', 'energy');
    const regionLimit = cfg.flood.factor * perDevice * fleet.length + cfg.flood.slack;
    const k = Math.floor(regionLimit / fleet.length);
    expect(floods(cfg.flood, k * fleet.length, perDevice * fleet.length)).toBe(false);

    const s = new Scaled(fleet);
    const t = s.run(s.single.clock, 10 * MIN);
    burst(s, t, k);
    expect(regionWide(s.single.anomalies)).toEqual([]);
    expect(s.workerRegionAnomalies()).toEqual([]);
    expect(s.merged).toEqual([]);
    const n = s.reported.map((ps) => ps.find((p) => p.detector === 'flood' && p.region === REGION) as FloodPartial).reduce((a, p) => a + p.n, 0);
    expect(n).toBe(k * fleet.length);
  });

  it('a region outage (most devices silent) over 3 workers: one silence.region, as one engine raises; devices online per region', () => {
    const probe = new Harness();
    const fleet = [...meters(probe, REGION), ...meters(probe, '220200')];
    const s = new Scaled(fleet);
    const chunk = 2 * MIN;
    let t = s.single.clock;
    for (let i = 0; i < 10; i++) {
      t = s.run(t, chunk);
      s.report(t);
    }
    expect(regionWide(s.single.anomalies)).toEqual([]);
    expect(s.merged).toEqual([]);
    const inRegion = meters(probe, REGION);
    expect(s.aggregator.devicesOnline(t)).toEqual({ [`energy/${REGION}`]: inRegion.length, 'energy/220200': meters(probe, '220200').length });

    // All of Changchun's meters but one stop; Jilin City's go on.
    const stopped = new Set(inRegion.slice(1).map((d) => d.id));
    expect(stopped.size / inRegion.length).toBeGreaterThanOrEqual(cfg.silence.regionRatio);
    for (let i = 0; i < 5; i++) {
      t = s.run(t, chunk, (d, _ty, _t, data) => (stopped.has(d.id) ? null : data));
      s.report(t);
    }
    const single = regionWide(s.single.anomalies);
    expect(single.map((a) => `${a.detector}.${a.kind} ${a.sector}/${a.region}`)).toEqual([`silence.region energy/${REGION}`]);
    expect(s.workerRegionAnomalies()).toEqual([]);
    expect(s.merged).toHaveLength(1);
    expect(shape(s.merged[0])).toEqual(shape(single[0]));
    expect(s.merged[0].value).toBe(stopped.size);
    expect(s.merged[0].detail).toBe(single[0].detail);
    // Silent devices are silent in the workers too (their device anomalies stay theirs).
    expect(s.workers.flatMap((h) => h.anomalies.filter((a) => a.detector === 'silence').map((a) => a.device)).sort()).toEqual([...stopped].sort());
    expect(s.aggregator.devicesOnline(t)).toEqual({ [`energy/${REGION}`]: 1, 'energy/220200': meters(probe, '220200').length });

    // Fires once per outage; re-arms when the region comes back.
    t = s.run(t, chunk);
    s.report(t);
    expect(s.merged).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      t = s.run(t, chunk, (d, _ty, _t, data) => (stopped.has(d.id) ? null : data));
      s.report(t);
    }
    expect(regionWide(s.single.anomalies)).toHaveLength(2);
    expect(s.merged).toHaveLength(2);
  });

  it('a dead worker\'s partials expire after the TTL', () => {
    const probe = new Harness();
    const fleet = [...meters(probe, REGION), ...meters(probe, '220200')];
    const ttlMs = 3000;
    const s = new Scaled(fleet, ttlMs);
    const t = s.run(s.single.clock, 5 * MIN);
    s.report(t);
    const all = fleet.filter((d) => d.region === REGION).length;
    expect(s.aggregator.devicesOnline(t)[`energy/${REGION}`]).toBe(all);
    expect(s.aggregator.live(t)).toEqual(['worker-0', 'worker-1', 'worker-2']);
    // Worker 2 dies; the others report on.
    s.report(t + 1000, [0, 1]);
    s.report(t + 2000, [0, 1]);
    expect(s.aggregator.devicesOnline(t + ttlMs)[`energy/${REGION}`]).toBe(all); // still within the TTL
    s.report(t + ttlMs + 1, [0, 1]);
    expect(s.aggregator.live(t + ttlMs + 1)).toEqual(['worker-0', 'worker-1']);
    const left = s.own(0).length + s.own(1).length;
    const online = s.aggregator.devicesOnline(t + ttlMs + 1);
    expect(online[`energy/${REGION}`] + online['energy/220200']).toBe(left);
    expect(online[`energy/${REGION}`]).toBe(fleet.filter((d) => d.region === REGION && !s.own(2).includes(d)).length);
    // Its devices are gone, not silent: no outage is raised for them.
    expect(s.merged).toEqual([]);
    // It comes back: its partials count again.
    s.report(t + ttlMs + 2);
    expect(s.aggregator.devicesOnline(t + ttlMs + 2)[`energy/${REGION}`]).toBe(all);
  });

  it('one worker with region partials on leaves region anomalies to the aggregator, which raises what the engine alone would', () => {
    const probe = new Harness();
    const fleet = meters(probe);
    const s = new Scaled(fleet, 3000, 1);
    let t = s.run(s.single.clock, 10 * MIN);
    burst(s, t, 3 * cfg.flood.factor);
    t += cfg.flood.windowMs;
    for (let i = 0; i < 5; i++) {
      t = s.run(t, 2 * MIN, () => null);
      s.report(t);
    }
    const single = regionWide(s.single.anomalies);
    expect(single.map((a) => `${a.detector}.${a.kind}`)).toEqual(['flood.region', 'silence.region']);
    expect(s.workerRegionAnomalies()).toEqual([]);
    expect(s.merged.map(shape)).toEqual(single.map(shape));
  });

  const inWindow = (a: Anomaly) => `${a.detector}.${a.kind} ${Math.floor(a.eventMs / cfg.flood.windowMs)}`;

  it('a fast replay reporting every 10 windows: a region flood confined to one window in the middle raises one flood.region, in that window', () => {
    const probe = new Harness();
    const fleet = meters(probe);
    const k = justOver(probe, fleet);
    const W = cfg.flood.windowMs;
    const s = new Scaled(fleet);
    let wall = 0;
    let t = s.run(s.single.clock, 10 * MIN);
    s.report((wall += 1000));
    // Ten windows of event time between two (wall-time) reports; the flood in the fifth.
    t = s.run(t, 4 * W);
    const flooded = t / W;
    burst(s, t, k, false);
    t = s.run(t + W, 5 * W);
    s.report((wall += 1000));
    // The report carried every window counted since the one before, not only the newest.
    const windows = s.reported.map((ps) => ps.filter((p) => p.detector === 'flood' && p.region === REGION).map((p) => (p as FloodPartial).window));
    for (const ws of windows) expect(ws).toEqual(Array.from({ length: 10 }, (_, i) => flooded - 4 + i));
    s.run(t, 10 * W);
    s.report(wall + 1000);

    const single = regionWide(s.single.anomalies);
    expect(single.map(inWindow)).toEqual([`flood.region ${flooded}`]);
    expect(s.workerRegionAnomalies()).toEqual([]);
    expect(s.merged.map(inWindow)).toEqual([`flood.region ${flooded}`]);
    expect(shape(s.merged[0])).toEqual(shape(single[0]));
    expect(s.merged[0].value).toBe(k * fleet.length);
  });

  it('a fast replay of a region outage, one worker reporting 20 min of event time ahead of the others: one silence.region within a bucket of the single engine\'s, none from summing counts of different times', () => {
    const probe = new Harness();
    const fleet = [...meters(probe, REGION), ...meters(probe, '220200')];
    const s = new Scaled(fleet);
    const inRegion = meters(probe, REGION).map((d) => d.id);
    const lead = new Set(s.own(0).map((d) => d.id));
    const x = inRegion.filter((id) => lead.has(id));
    const y = inRegion.filter((id) => !lead.has(id));
    const outage = new Set(inRegion.slice(1));
    // Neither the leading worker's devices of the region nor the others' are an outage alone; together they would be.
    expect(x.length / inRegion.length).toBeLessThan(cfg.silence.regionRatio);
    expect(y.length / inRegion.length).toBeLessThan(cfg.silence.regionRatio);
    expect(outage.size / inRegion.length).toBeGreaterThanOrEqual(cfg.silence.regionRatio);

    let wall = 0;
    const t0 = s.run(s.single.clock, 10 * MIN);
    s.report((wall += 1000));
    // Minutes after t0: y quiet in [10, 20), x quiet in [30, 40), all but one quiet in [50, 65).
    const quiet = (id: string, t: number) => {
      const m = (t - t0) / MIN;
      return (m >= 10 && m < 20 && y.includes(id)) || (m >= 30 && m < 40 && x.includes(id)) || (m >= 50 && m < 65 && outage.has(id));
    };
    const mutate: Parameters<Harness['run']>[3] = (d, _type, t, data) => (quiet(d.id, t) ? null : data);
    const end = t0 + 80 * MIN;
    s.single.run(fleet, t0, end - t0, mutate);
    // Worker 0 runs 20 min of event time ahead of the others; all report every 5 min of the others' time.
    const step = 5 * MIN;
    s.workers[0].run(s.own(0), t0, 20 * MIN, mutate);
    for (let t = t0; t < end; t += step) {
      if (t + 20 * MIN < end) s.workers[0].run(s.own(0), t + 20 * MIN, step, mutate);
      for (const k of [1, 2]) s.workers[k].run(s.own(k), t, step, mutate);
      s.report((wall += 1000));
    }

    const single = regionWide(s.single.anomalies);
    expect(single.map((a) => `${a.detector}.${a.kind} ${a.region}`)).toEqual([`silence.region ${REGION}`]);
    expect(single[0].eventMs - t0).toBeGreaterThan(50 * MIN);
    expect(s.workerRegionAnomalies()).toEqual([]);
    expect(s.merged.map((a) => `${a.detector}.${a.kind} ${a.region}`)).toEqual([`silence.region ${REGION}`]);
    expect(shape(s.merged[0])).toEqual(shape(single[0]));
    expect(Math.abs(s.merged[0].eventMs - single[0].eventMs)).toBeLessThanOrEqual(cfg.silence.regionBucketMs);
    expect(s.merged[0].detail).toBe(single[0].detail);
    expect(s.aggregator.devicesOnline(wall)).toEqual({ [`energy/${REGION}`]: inRegion.length, 'energy/220200': meters(probe, '220200').length });
  });

  it('with region partials off (the default) the engine reports none and raises region anomalies itself', () => {
    expect(cfg.regionPartials).toBe(false);
    const h = new Harness();
    const t = h.run(meters(h), h.clock, 5 * MIN);
    expect(h.engine.regionPartials(t)).toEqual([]);
    const w = new Harness(onPartials);
    w.run(meters(w), w.clock, 5 * MIN);
    const ps = w.engine.regionPartials(t);
    // Every window and bucket since the start (ticks run up to the last meter reading, at 4 min),
    // then only the newest of each.
    expect(ps.filter((p) => p.detector === 'flood').length).toBe((5 * MIN) / cfg.flood.windowMs);
    expect(ps.filter((p) => p.detector === 'silence').length).toBeGreaterThanOrEqual((4 * MIN) / cfg.silence.regionBucketMs);
    expect(JSON.parse(JSON.stringify(ps))).toEqual(ps);
    expect(w.engine.regionPartials(t).map((p) => p.detector).sort()).toEqual(['flood', 'silence']);
  });
});
