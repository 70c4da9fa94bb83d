import type { Logger } from 'pino';
import type { Ledger } from '../core/ledger.js';
import type { RuntimeHealth } from '../core/runtime/runtime.js';

/** A progress line every `everySec` seconds (0: none): rate and the ledger's totals. */
export class ProgressLog {
  private timer?: NodeJS.Timeout;
  private last = { at: Date.now(), received: 0 };

  constructor(
    private readonly ledger: Ledger,
    private readonly health: () => RuntimeHealth & { spoolBytes: number; mqttConnected: boolean },
    private readonly log: Logger,
    private readonly everySec: number,
  ) {}

  start(): void {
    if (this.everySec <= 0) return;
    this.timer = setInterval(() => this.line(), this.everySec * 1000);
    this.timer.unref();
  }

  private line(): void {
    const t = this.ledger.totals();
    const h = this.health();
    const now = Date.now();
    const rate = Math.round(((t.received - this.last.received) * 1000) / Math.max(1, now - this.last.at));
    this.last = { at: now, received: t.received };
    this.log.info(
      { rate, ...t, pending: h.pending, spoolBytes: h.spoolBytes, influxUp: h.outputUp, mqttConnected: h.mqttConnected },
      `progress: ${rate} msg/s, received ${t.received}, stored ${t.stored}, dead-lettered ${t.deadLettered}, in spool ${t.inSpool}${h.outputUp ? '' : ' (InfluxDB DOWN)'}`,
    );
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
