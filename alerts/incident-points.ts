import { Point } from '@influxdata/influxdb-client';
import { LEVEL_NAMES, type Level } from '../core/anomaly.js';
import type { Incident } from './incident.js';
import type { IncidentEvent } from './incidents.js';

/** Line protocol of one incident event: measurement `incidents`, for the dashboards. */
export function incidentLine(event: IncidentEvent, inc: Incident, at: number, n: number): string {
  const p = new Point('incidents')
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
    .booleanField('reported', inc.reportedAt !== undefined);
  // Report-by deadline (level III and above), ms since epoch, for the security-events table.
  if (inc.reportBy !== undefined) p.intField('report_by', inc.reportBy);
  return p
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
