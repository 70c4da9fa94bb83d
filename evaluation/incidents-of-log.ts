import type { Incident } from '../alerts/incident.js';
import { readLogRecords } from '../alerts/incident-log.js';

/** The latest state of every incident in a log file. */
export function incidentsOfLog(file: string): Incident[] {
  const byId = new Map<string, Incident>();
  for (const r of readLogRecords(file)) byId.set(r.incident.id, r.incident);
  return [...byId.values()];
}
