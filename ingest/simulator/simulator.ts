import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { sign } from '../../core/signature.js';
import type { SimDevice } from './fleet.js';
import { prng, ReadingGenerator } from './readings.js';
import type { Cadence } from './scenarios.js';

interface SimulatorBase {
  url: string;
  fleet: SimDevice[];
  /** Stop after this many messages (default: run until stop()). */
  count?: number;
  seed?: number;
  /** Share of messages silently not sent (a flaky field link). */
  dropout?: number;
  protocolVersion?: 4 | 5;
  clientId?: string;
  /** Most unacknowledged publishes at once. */
  maxOutstanding?: number;
}

/**
 * `rate`: messages per second over the whole fleet, round-robin (load tests). Without it every
 * device sends each of its types at its `cadence` (the catalogue's update cycle, see
 * catalogueCadence): a realistic fleet.
 */
export type SimulatorOptions = SimulatorBase & ({ rate: number; cadence?: Cadence } | { rate?: undefined; cadence: Cadence });

/** One message as the simulator publishes it. */
export interface SimMessage {
  topic: string;
  payload: Record<string, unknown>;
}

/**
 * Builds messages for a fleet: round-robin over devices and their message types, seq
 * increasing per device, `ts` alternating between epoch ms and RFC 3339, signed where the
 * device has a key.
 */
export class MessageFactory {
  private readonly gen: ReadingGenerator;
  private readonly seq = new Map<string, number>();
  private readonly last = new Map<string, number>();
  private i = 0;
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly fleet: SimDevice[], seed = 1) {
    this.gen = new ReadingGenerator(prng(seed));
    for (const d of fleet) if (d.key) this.keys.set(d.id, Buffer.from(d.key, 'hex'));
  }

  next(now = Date.now()): SimMessage {
    const d = this.fleet[this.i % this.fleet.length];
    const type = d.types[Math.floor(this.i / this.fleet.length) % d.types.length];
    this.i++;
    return this.make(d, type, now);
  }

  make(d: SimDevice, type: string, now: number): SimMessage {
    const seq = (this.seq.get(d.id) ?? 0) + 1;
    this.seq.set(d.id, seq);
    const dt = (now - (this.last.get(d.id) ?? now - 1000)) / 1000;
    this.last.set(d.id, now);
    const topic = `jl/${d.sector}/${d.region}/${d.id}/${type}`;
    const payload: Record<string, unknown> = { ts: seq % 2 ? now : new Date(now).toISOString(), seq, data: this.gen.data(d, type, now, dt) };
    const key = this.keys.get(d.id);
    if (key) payload.sig = sign(key, topic, payload);
    return { topic, payload };
  }
}

/** Publishes a simulated fleet to an MQTT broker at a steady rate. */
export class Simulator {
  private client?: MqttClient;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  sent = 0;
  dropped = 0;
  private outstanding = 0;
  readonly factory: MessageFactory;
  private readonly rand: () => number;

  constructor(private readonly opts: SimulatorOptions, private readonly log?: Logger) {
    this.factory = new MessageFactory(opts.fleet, opts.seed ?? 1);
    this.rand = prng((opts.seed ?? 1) + 7);
  }

  /** Starts publishing; resolves when `count` messages are acknowledged (or after stop()). */
  async run(): Promise<void> {
    this.client = await mqtt.connectAsync(this.opts.url, {
      clientId: this.opts.clientId ?? `jl-sim-${process.pid}-${Date.now()}`,
      protocolVersion: this.opts.protocolVersion ?? 4,
      clean: true,
      reconnectPeriod: 1000,
    });
    const start = Date.now();
    const maxOut = this.opts.maxOutstanding ?? 2000;
    if (this.opts.rate === undefined) return this.runAtCadence(this.opts.cadence);
    const rate = this.opts.rate;
    await new Promise<void>((resolve) => {
      const tick = () => {
        if (this.stopped) return resolve();
        const due = Math.floor(((Date.now() - start) / 1000) * rate);
        const target = this.opts.count !== undefined ? Math.min(due, this.opts.count) : due;
        while (this.sent + this.dropped < target && this.outstanding < maxOut) this.publishOne();
        if (this.opts.count !== undefined && this.sent + this.dropped >= this.opts.count && this.outstanding === 0) return resolve();
        this.timer = setTimeout(tick, 10);
      };
      tick();
    });
    await this.client.endAsync();
  }

  /** Every device and type at its catalogue cadence, phases spread, until stop(). */
  private async runAtCadence(cadence: Cadence): Promise<void> {
    const now = Date.now();
    const streams = this.opts.fleet.flatMap((d) =>
      d.types.map((type) => {
        const cycle = cadence(d.sector, type);
        return { d, type, cycle, next: now + Math.floor(this.rand() * cycle) };
      }),
    );
    await new Promise<void>((resolve) => {
      const tick = () => {
        if (this.stopped) return resolve();
        const t = Date.now();
        for (const s of streams) {
          if (s.next > t) continue;
          s.next += s.cycle;
          this.publishOne(this.factory.make(s.d, s.type, t));
        }
        this.timer = setTimeout(tick, 50);
      };
      tick();
    });
    await this.client!.endAsync();
  }

  private publishOne(m: SimMessage = this.factory.next()): void {
    if (this.opts.dropout && this.rand() < this.opts.dropout) {
      this.dropped++;
      return;
    }
    this.sent++;
    this.outstanding++;
    this.client!.publish(m.topic, JSON.stringify(m.payload), { qos: 1 }, (err) => {
      this.outstanding--;
      if (err) this.log?.warn({ err: err.message }, 'simulator publish failed');
    });
  }

  /** Stops after the current tick; `run()` then resolves. */
  stop(): void {
    this.stopped = true;
  }
}
