import type { Logger } from 'pino';
import type { CapacityPlan } from './planner.js';

/**
 * Plans capacity every `everyMs` for the capacity dashboard (the plan writes its forecast back
 * to InfluxDB) and logs where capacity runs out within the horizon. A failed plan is logged and
 * tried again at the next interval. `everyMs` 0 never plans.
 */
export class CapacityScheduler {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly plan: () => Promise<CapacityPlan>,
    private readonly everyMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.everyMs <= 0) return;
    this.timer = setInterval(() => void this.run(), this.everyMs);
    this.timer.unref();
  }

  /** One plan now; never rejects. */
  async run(): Promise<void> {
    try {
      const plan = await this.plan();
      const soon = plan.regions.flatMap((r) => r.metrics.filter((m) => m.exhaustedAt !== null).map((m) => `${r.region} ${m.metric} ${new Date(m.exhaustedAt!).toISOString().slice(0, 10)}`));
      this.log.info({ regions: plan.regions.length, runsOut: soon }, soon.length ? `capacity: runs out within the horizon: ${soon.join(', ')}` : 'capacity: no region runs out within the horizon');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'capacity plan failed; will retry at the next interval');
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
