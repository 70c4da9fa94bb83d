import type { Logger } from 'pino';
import type { Anomaly, Detector, DetectInput, Emit } from '../../core/anomaly.js';
import type { Catalogue, CatalogueEntry } from '../../core/catalogue.js';
import type { Stage } from '../../core/runtime/runtime.js';
import type { Outcome, Reading, Rejection } from '../../core/types.js';
import type { DetectionConfig } from './config.js';
import { reportsRegions, type RegionPartial } from './region/partials.js';
import { buildDetectors } from './registry.js';
import { ExpiringState, type DetectorContext } from './state.js';

/** Counters of the detection stage, for /stats and /metrics. */
export interface DetectionStats {
  readings: number;
  rejections: number;
  outOfOrder: number;
  /** Readings later than the allowed lateness: stored, but not scored. */
  late: number;
  /** Readings of a device or message type the (reloaded) config no longer knows. */
  unknown: number;
  errors: number;
  anomalies: Record<string, number>;
  devices: number;
  state: Record<string, number>;
}

/**
 * One device's detection state, JSON-safe: what a worker taking over its Kafka partition restores
 * (warm hand-over), so it raises no false anomaly from re-learning the device.
 */
export interface DeviceSnapshot {
  version: typeof SNAPSHOT_VERSION;
  /** The device's newest event time: what later readings are out of order against. */
  newest: number;
  /** Each detector's state of the device, by detector name; absent when it holds none. */
  detectors: Record<string, unknown>;
}

const SNAPSHOT_VERSION = 1;

/**
 * Runs the anomaly processors over the pipeline's outcomes, in event time. `observe` is called
 * for each message in arrival order (readings and rejections), `tick` about once a second.
 *
 * The watermark is the newest event time seen, advanced by wall time while nothing arrives (so a
 * fleet going quiet is noticed) and never ahead of the wall clock (so one device with a fast
 * clock cannot make every other device look silent).
 */
export class DetectionEngine implements Stage {
  readonly name = 'detection';
  readonly detectors: Detector[];
  /** Each device's newest event time, kept as its touch time (no boxed number per device). */
  private readonly newest = new ExpiringState<true>();
  private maxEvent = -Infinity;
  private lastTickAt = -Infinity;
  private lastArrival = 0;
  private timer?: NodeJS.Timeout;
  private readonly counts: Omit<DetectionStats, 'devices' | 'state'> = { readings: 0, rejections: 0, outOfOrder: 0, late: 0, unknown: 0, errors: 0, anomalies: {} };
  private readonly emit: Emit;
  /** Devices whose state changed since the last `takeDirty`, once `trackChanges` was called. */
  private dirty?: Set<string>;

  constructor(
    private readonly cfg: DetectionConfig,
    private readonly ctx: DetectorContext,
    onAnomaly: Emit,
    private readonly log?: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.detectors = cfg.enabled ? buildDetectors(cfg, ctx) : [];
    this.emit = (a: Anomaly) => {
      const k = `${a.detector}.${a.kind}`;
      this.counts.anomalies[k] = (this.counts.anomalies[k] ?? 0) + 1;
      // A tick changes state too (silence marks the device silent) and says so by an anomaly.
      if (a.device !== undefined && this.dirty && this.newest.touched(a.device) !== undefined) this.dirty.add(a.device);
      onAnomaly(a);
    };
  }

  /**
   * Judges each device's absence at its own watermark: a Kafka worker reads several partitions
   * at different speeds (a backlog on one, live data on another), so a device must be judged
   * by the event time of its own partition, not by the fastest one, or the devices of a slow
   * partition would look silent (per-partition watermarks, as in Flink and Kafka Streams).
   * `of(device, watermark, now)` gets the engine's watermark and returns the device's.
   */
  setDeviceWatermark(of: (device: string, watermark: number, now: number) => number): void {
    this.deviceWatermark = of;
  }

  private deviceWatermark?: (device: string, watermark: number, now: number) => number;

  /** The event-time watermark now. */
  watermark(now = this.clock()): number {
    if (this.maxEvent === -Infinity) return -Infinity;
    return Math.min(now, this.maxEvent + Math.max(0, now - this.lastArrival));
  }

  observe(o: Outcome): void {
    if (!this.detectors.length) return;
    if (o.ok) this.reading(o.reading);
    else this.rejection(o.rejection);
  }

  /** Catalogue entries by a reading's source (`sector/region/type`), for the catalogue in force. */
  private entries = new Map<string, CatalogueEntry | undefined>();
  private entriesOf?: Catalogue;

  private entryOf(source: string): CatalogueEntry | undefined {
    const catalogue = this.ctx.catalogue();
    if (catalogue !== this.entriesOf) {
      this.entries.clear();
      this.entriesOf = catalogue;
    }
    let e = this.entries.get(source);
    if (e === undefined && !this.entries.has(source)) {
      const [sector, , type] = source.split('/');
      e = catalogue.byType.get(`${sector}/${type}`);
      this.entries.set(source, e);
    }
    return e;
  }

  private reading(r: Reading): void {
    this.counts.readings++;
    const entry = this.entryOf(r.source);
    const device = this.ctx.registry().get(r.device);
    if (!entry || !device) {
      this.counts.unknown++;
      return;
    }
    // Keyed by the registry's id string: the reading's own is a slice of its topic, and a key
    // kept in state would keep the whole topic string alive.
    const id = device.id;
    this.dirty?.add(id);
    const now = this.clock();
    // One lookup: the device's slot, its newest event time kept (an older reading is out of order).
    const slot = this.newest.touch(id, r.eventMs, true);
    const prev = this.newest.previous;
    const outOfOrder = r.eventMs < prev;
    const late = outOfOrder && prev - r.eventMs > this.cfg.allowedLatenessMs;
    if (r.eventMs > this.maxEvent) this.maxEvent = Math.min(r.eventMs, now);
    this.lastArrival = now;
    if (outOfOrder) this.counts.outOfOrder++;
    if (late) this.counts.late++;
    const wm = this.watermark(now);
    const input: DetectInput = { reading: r, entry, device, key: `${device.id}|${entry.measurement}`, slot, outOfOrder, watermark: wm };
    for (const d of this.detectors) {
      if (!d.reading || (late && !d.lateToo)) continue;
      this.safely(d, () => d.reading!(input, this.emit));
    }
    // Absence is judged as event time advances too, so a backfill or a fast replay of hours of
    // data is judged exactly as live data would be.
    if (wm - this.lastTickAt >= this.cfg.tickMs) this.tick(now);
  }

  private rejection(r: Rejection): void {
    this.counts.rejections++;
    for (const d of this.detectors) if (d.rejection) this.safely(d, () => d.rejection!(r, this.emit));
  }

  /** Judges absence at the current watermark and drops expired state. */
  tick(now = this.clock()): void {
    const wm = this.watermark(now);
    if (wm === -Infinity) return;
    this.lastTickAt = wm;
    const of = this.deviceWatermark;
    const watermarkOf = of && ((device: string) => of(device, wm, now));
    for (const d of this.detectors) if (d.tick) this.safely(d, () => d.tick!(wm, this.emit, watermarkOf));
    const before = wm - this.cfg.stateTtlMs;
    for (const d of this.detectors) d.expire(before);
    this.newest.expire(before);
  }

  /**
   * What this worker learnt of each sector-region since the last call, in event time (flood
   * counts per window, known and silent devices per bucket), for a RegionAggregator to sum over
   * workers: one caller only, since each call hands over what changed. Reported by flood and
   * silence when `detection.regionPartials` is on (they then raise no region anomalies); empty
   * when it is off.
   */
  regionPartials(now = this.clock()): RegionPartial[] {
    const wm = this.watermark(now);
    const out: RegionPartial[] = [];
    if (!this.cfg.regionPartials || wm === -Infinity) return out;
    for (const d of this.detectors) if (reportsRegions(d)) this.safely(d, () => out.push(...d.regionPartials(wm)));
    return out;
  }

  /** The device's state in every detector, JSON-safe; undefined when the engine holds none. */
  snapshotDevice(id: string): DeviceSnapshot | undefined {
    const newest = this.newest.touched(id);
    if (newest === undefined) return undefined;
    const slot = this.newest.slotOf(id)!;
    const detectors: Record<string, unknown> = {};
    for (const d of this.detectors) {
      const s = d.snapshot?.(id, slot);
      if (s !== undefined) detectors[d.name] = s;
    }
    return { version: SNAPSHOT_VERSION, newest, detectors };
  }

  /**
   * Replaces the device's state by a snapshot (from `snapshotDevice`, possibly of another worker,
   * through JSON). Detectors it does not name start the device afresh; names this engine does not
   * run are ignored. A malformed snapshot is refused as a whole: false, and nothing changes.
   * Meant for before the device's first reading here: it overwrites what was learnt meanwhile.
   */
  restoreDevice(id: string, snap: unknown): boolean {
    if (typeof snap !== 'object' || snap === null) return false;
    const { version, newest, detectors } = snap as Partial<Record<keyof DeviceSnapshot, unknown>>;
    if (version !== SNAPSHOT_VERSION || typeof newest !== 'number' || !Number.isFinite(newest)) return false;
    if (typeof detectors !== 'object' || detectors === null || Array.isArray(detectors)) return false;
    const given = detectors as Record<string, unknown>;
    // No entry may be newer than the device's newest event: its state would outlive the device's
    // slot in the engine and pass to the next device given that slot (rows.ts).
    if (Object.values(given).some((entries) => Array.isArray(entries) && entries.some((e) => Array.isArray(e) && typeof e[1] === 'number' && e[1] > newest))) return false;
    const done: { d: Detector; before: unknown }[] = [];
    // The device needs a slot before its rows can be restored (rows.ts).
    const known = this.newest.slotOf(id) !== undefined;
    const slot = known ? this.newest.slotOf(id)! : this.newest.touch(id, newest, true);
    try {
      for (const d of this.detectors) {
        if (!d.restore) continue;
        const before = d.snapshot?.(id, slot);
        d.restore(id, Object.hasOwn(given, d.name) ? given[d.name] : undefined, slot);
        done.push({ d, before });
      }
    } catch {
      // Put back what the detectors restored so far: all or nothing.
      for (const { d, before } of done) this.safely(d, () => d.restore!(id, before, slot));
      if (!known) this.newest.delete(id);
      return false;
    }
    this.newest.set(id, true, newest);
    // The restored device's events were seen (by the previous owner): the watermark moves up to
    // them as for a reading, without jumping ahead by wall time since an older arrival.
    const now = this.clock();
    if (newest > this.maxEvent) {
      this.maxEvent = Math.min(newest, now);
      this.lastArrival = now;
    }
    return true;
  }

  /**
   * From now on, note the devices whose state changes, for `takeDirty` (a worker checkpointing
   * its state). Off by default: a single process would keep every device in the set.
   */
  trackChanges(): void {
    this.dirty ??= new Set();
  }

  /** Devices whose state changed (a reading, or a tick's anomaly) since the last call: to checkpoint. */
  takeDirty(): Set<string> {
    const out = this.dirty ?? new Set<string>();
    if (this.dirty) this.dirty = new Set();
    return out;
  }

  /** Marks a device to be checkpointed again (its last checkpoint did not go out). */
  markDirty(id: string): void {
    if (this.newest.touched(id) !== undefined) this.dirty?.add(id);
  }

  /** Drops all the device's state: another worker owns it now, so this one must not judge it (silence). */
  forgetDevice(id: string): void {
    const slot = this.newest.slotOf(id) ?? -1;
    for (const d of this.detectors) if (d.restore) this.safely(d, () => d.restore!(id, undefined, slot));
    this.newest.delete(id);
    this.dirty?.delete(id);
  }

  /** A processor bug must not stop the pipeline: it is logged and counted. */
  private safely(d: Detector, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (this.counts.errors++ < 10) this.log?.error({ detector: d.name, err: (e as Error).message }, 'anomaly processor failed');
    }
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.cfg.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  stats(): DetectionStats {
    return { ...this.counts, anomalies: { ...this.counts.anomalies }, devices: this.newest.size, state: Object.fromEntries(this.detectors.map((d) => [d.name, d.size()])) };
  }
}
