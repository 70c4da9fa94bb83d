import type { Anomaly } from '../core/anomaly.js';
import type { BestEffortLines } from '../storage/influx/best-effort.js';
import type { HealthSnapshot, PipelineStats } from './statistics.js';

/**
 * Every `everyMs`, drains the pipeline's statistics into `pipeline_stats`, `pipeline_rejects`
 * and `pipeline_health` lines (written best effort) and raises an anomaly for each resource
 * newly over its cardinality budget. `more` adds lines of the same interval (a Kafka role's
 * `pipeline_kafka`, see kafka-points.ts). `stop` writes a last interval.
 */
export class StatisticsReporter {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly stats: PipelineStats,
    private readonly snapshot: () => HealthSnapshot,
    private readonly lines: BestEffortLines,
    private readonly onAnomaly: (a: Anomaly) => void,
    private readonly everyMs: number,
    private readonly more: (now: number) => string[] = () => [],
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.report(), this.everyMs);
    this.timer.unref();
  }

  /** One interval now; never rejects. */
  async report(now = Date.now()): Promise<void> {
    this.lines.push(this.stats.lines(now, this.snapshot()));
    try {
      this.lines.push(this.more(now));
    } catch {
      /* the extra lines are best effort: never stop the statistics for them */
    }
    for (const a of this.stats.budgetAnomalies(now)) this.onAnomaly(a);
    await this.lines.flush();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.report();
  }
}
