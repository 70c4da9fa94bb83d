import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCatalogue } from '../../../config/catalogue.js';
import { loadRegistry } from '../../../config/devices.js';
import { loadPipelineConfig, defaultConfigFile } from '../../../app/config.js';
import type { Anomaly } from '../../../core/anomaly.js';
import { makeFleet, type SimDevice } from '../../../ingest/simulator/fleet.js';
import { prng, ReadingGenerator } from '../../../ingest/simulator/readings.js';
import type { DetectionConfig } from '../../../processors/anomaly/config.js';
import { DetectionEngine } from '../../../processors/anomaly/engine.js';
import { validateAndTag, type TagContext } from '../../../processors/validate-and-tag.js';
import { sign } from '../../../core/signature.js';
import { tempDir } from '../../helpers/services.js';

/** Cadence of each message type in the tests: the catalogue's update cycle. */
export type Data = Record<string, number | string | boolean>;

/**
 * Drives the real ingest stage and detection engine with simulated messages in event time, and
 * collects the anomalies. The arrival clock follows the newest event (real-time delivery).
 */
export class Harness {
  readonly fleet: SimDevice[] = makeFleet(198, 'test');
  readonly anomalies: Anomaly[] = [];
  readonly engine: DetectionEngine;
  readonly ctx: TagContext;
  private readonly gen = new ReadingGenerator(prng(42));
  private readonly seq = new Map<string, number>();
  private readonly last = new Map<string, number>();
  readonly rejected: string[] = [];
  clock: number;

  constructor(patch: (c: DetectionConfig) => void = () => {}, start = Date.UTC(2026, 5, 1, 0, 0, 0)) {
    const dir = tempDir();
    const file = join(dir, 'devices.yaml');
    writeFileSync(file, this.fleet.map((d) => JSON.stringify({ id: d.id, sector: d.sector, region: d.region, types: d.types, ...(d.key ? { key: d.key } : {}), ...(d.kind === 'meter' ? { criticalInfrastructure: true } : {}) })).map((l) => `- ${l}`).join('\n') + '\n');
    const config = loadPipelineConfig(defaultConfigFile(), {});
    patch(config.detection);
    const catalogue = loadCatalogue(config.catalogue);
    const registry = loadRegistry(file, catalogue);
    this.ctx = { catalogue: () => catalogue, registry: () => registry, pseudonymKey: Buffer.alloc(32, 7), maxPayloadBytes: 65536, futureToleranceMs: 300_000 };
    this.clock = start;
    this.engine = new DetectionEngine(config.detection, this.ctx, (a) => this.anomalies.push(a), undefined, () => this.clock);
  }

  device(kind: string, region = '220100', n = 1): SimDevice {
    const d = this.fleet.filter((x) => x.kind === kind && x.region === region)[n - 1];
    if (!d) throw new Error(`no ${kind} #${n} in ${region}`);
    return d;
  }

  cycleMs(type: string, sector: string): number {
    return this.ctx.catalogue().byType.get(`${sector}/${type}`)!.updateCycleMs;
  }

  /** Normal data of `d` at event time `t` (the generator's daily cycles and noise). */
  normal(d: SimDevice, type: string, t: number): Data {
    const dt = (t - (this.last.get(`${d.id}|${type}`) ?? t - this.cycleMs(type, d.sector))) / 1000;
    this.last.set(`${d.id}|${type}`, t);
    return this.gen.data(d, type, t, dt);
  }

  /** Sends one message through ingest and detection. Returns its seq. */
  send(d: SimDevice, type: string, t: number, data: Data, o: { seq?: number; topic?: string; badSig?: boolean; ts?: number; dup?: boolean } = {}): number {
    const seq = o.seq ?? (this.seq.get(d.id) ?? 0) + 1;
    if (o.seq === undefined) this.seq.set(d.id, seq);
    const topic = o.topic ?? `jl/${d.sector}/${d.region}/${d.id}/${type}`;
    const payload: Record<string, unknown> = { ts: o.ts ?? t, seq, data };
    if (d.key) payload.sig = o.badSig ? 'ab'.repeat(32) : sign(Buffer.from(d.key, 'hex'), topic, payload);
    this.clock = Math.max(this.clock, t + 200);
    const outcome = validateAndTag(this.ctx, { topic, payload: Buffer.from(JSON.stringify(payload)), receivedAt: this.clock, dup: o.dup }, this.clock);
    if (!outcome.ok) this.rejected.push(outcome.rejection.reason);
    this.engine.observe(outcome);
    return seq;
  }

  /**
   * Runs devices at their catalogue cadence from `from` for `durationMs` (event time), ticking the
   * engine every simulated second. `mutate` may change (or drop, returning null) any message.
   */
  run(devices: SimDevice[], from: number, durationMs: number, mutate?: (d: SimDevice, type: string, t: number, data: Data) => Data | null): number {
    const next = new Map<string, number>();
    for (const d of devices) for (const type of d.types) next.set(`${d.id}|${type}`, from + Math.floor((d.id.length * 997 + type.length * 131) % 1000));
    const end = from + durationMs;
    let lastTick = from;
    for (;;) {
      let best: string | undefined;
      let bt = Infinity;
      for (const [k, t] of next) if (t < bt) [best, bt] = [k, t];
      if (!best || bt >= end) break;
      const [id, type] = best.split('|');
      const d = devices.find((x) => x.id === id)!;
      next.set(best, bt + this.cycleMs(type, d.sector));
      while (lastTick + 1000 <= bt) {
        lastTick += 1000;
        this.clock = Math.max(this.clock, lastTick);
        this.engine.tick(this.clock);
      }
      const normal = this.normal(d, type, bt);
      const data = mutate ? mutate(d, type, bt, normal) : normal;
      if (data) this.send(d, type, bt, data);
    }
    return end;
  }

  kinds(device?: string): string[] {
    return [...new Set(this.anomalies.filter((a) => !device || a.device === device || (!a.device && device === '*region')).map((a) => `${a.detector}.${a.kind}`))].sort();
  }
}
