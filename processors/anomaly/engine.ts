import type { Logger } from 'pino';
import type { Anomaly, Detector, DetectInput, Emit } from '../../core/anomaly.js';
import type { Stage } from '../../core/runtime/runtime.js';
import type { Outcome, Reading, Rejection } from '../../core/types.js';
import type { DetectionConfig } from './config.js';
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
  private readonly newest = new ExpiringState<number>();
  private maxEvent = -Infinity;
  private lastTickAt = -Infinity;
  private lastArrival = 0;
  private timer?: NodeJS.Timeout;
  private readonly counts: Omit<DetectionStats, 'devices' | 'state'> = { readings: 0, rejections: 0, outOfOrder: 0, late: 0, unknown: 0, errors: 0, anomalies: {} };
  private readonly emit: Emit;

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
      onAnomaly(a);
    };
  }

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

  private reading(r: Reading): void {
    this.counts.readings++;
    const [sector, , type] = r.source.split('/');
    const entry = this.ctx.catalogue().byType.get(`${sector}/${type}`);
    const device = this.ctx.registry().get(r.device);
    if (!entry || !device) {
      this.counts.unknown++;
      return;
    }
    const now = this.clock();
    const prev = this.newest.peek(r.device);
    const outOfOrder = prev !== undefined && r.eventMs < prev;
    const late = outOfOrder && prev - r.eventMs > this.cfg.allowedLatenessMs;
    if (!outOfOrder) this.newest.set(r.device, r.eventMs, r.eventMs);
    if (r.eventMs > this.maxEvent) this.maxEvent = Math.min(r.eventMs, now);
    this.lastArrival = now;
    if (outOfOrder) this.counts.outOfOrder++;
    if (late) this.counts.late++;
    const input: DetectInput = { reading: r, entry, device, outOfOrder, watermark: this.watermark(now) };
    for (const d of this.detectors) {
      if (!d.reading || (late && !d.lateToo)) continue;
      this.safely(d, () => d.reading!(input, this.emit));
    }
    // Absence is judged as event time advances too, so a backfill or a fast replay of hours of
    // data is judged exactly as live data would be.
    if (this.maxEvent - this.lastTickAt >= this.cfg.tickMs) this.tick(now);
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
    for (const d of this.detectors) if (d.tick) this.safely(d, () => d.tick!(wm, this.emit));
    const before = wm - this.cfg.stateTtlMs;
    for (const d of this.detectors) d.expire(before);
    this.newest.expire(before);
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
