import { Point } from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import { LEVEL_NAMES, type Level } from '../core/anomaly.js';
import type { LineWriter } from '../storage/influx/writer.js';
import type { Incident } from './incident.js';
import type { IncidentEvent } from './incidents.js';

/** Line protocol of one incident event: measurement `incidents`, for the dashboards. */
export function incidentLine(event: IncidentEvent, inc: Incident, at: number, n: number): string {
  return new Point('incidents')
    .tag('level', LEVEL_NAMES[inc.level])
    .tag('category', inc.category)
    .tag('kind', `${inc.detector}.${inc.kind}`)
    .tag('sector', inc.sector)
    .tag('region', inc.region)
    .tag('grade', inc.grade)
    .tag('event', event)
    .stringField('id', inc.id)
    .stringField('state', inc.state)
    .stringField('title', inc.title)
    .intField('count', inc.count)
    .intField('devices', inc.deviceCount)
    .booleanField('overdue', inc.overdue)
    .booleanField('critical', inc.criticalInfrastructure)
    // The log record number in the sub-millisecond digits: two events in one ms stay apart.
    .timestamp(`${at}${String(n % 1_000_000).padStart(6, '0')}`)
    .toLineProtocol()!;
}

/** Gauge of incidents by level and state (measurement `incidents_open`), written periodically. */
export function openGaugeLines(incidents: Incident[], at: number): string[] {
  const lines: string[] = [];
  for (const level of [1, 2, 3, 4] as Level[]) {
    const of = incidents.filter((i) => i.level === level);
    lines.push(
      new Point('incidents_open')
        .tag('level', LEVEL_NAMES[level])
        .intField('open', of.filter((i) => i.state === 'open').length)
        .intField('acknowledged', of.filter((i) => i.state === 'acknowledged').length)
        .intField('overdue', of.filter((i) => i.overdue && i.state !== 'resolved').length)
        .timestamp(new Date(at))
        .toLineProtocol()!,
    );
  }
  return lines;
}

/**
 * Writes incident events to InfluxDB, best effort: the hash-chained log is the record, this is
 * the dashboards' copy. Failed writes stay queued (bounded) and are retried; at start the whole
 * log is written again, which overwrites rather than duplicates.
 */
export class IncidentPoints {
  private queue: string[] = [];
  private busy = false;
  dropped = 0;

  constructor(private readonly writer: () => LineWriter | undefined, private readonly log: Logger, private readonly maxQueue = 100_000) {}

  push(lines: string[]): void {
    this.queue.push(...lines);
    if (this.queue.length > this.maxQueue) this.dropped += this.queue.splice(0, this.queue.length - this.maxQueue).length;
  }

  async flush(): Promise<void> {
    const w = this.writer();
    if (this.busy || !w || !this.queue.length) return;
    this.busy = true;
    const batch = this.queue.splice(0, 5000);
    try {
      await w.write(batch);
    } catch (e) {
      this.queue.unshift(...batch);
      this.log.warn({ err: (e as Error).message, queued: this.queue.length }, 'incident points not written to InfluxDB; will retry');
    } finally {
      this.busy = false;
    }
  }

  get pending(): number {
    return this.queue.length;
  }
}
