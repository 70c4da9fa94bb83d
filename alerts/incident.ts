import type { Grade } from '../config/catalogue.js';
import type { Anomaly, AnomalyEvidence, Category, Level } from '../core/anomaly.js';

export type IncidentState = 'open' | 'acknowledged' | 'resolved';

export interface TimelineEntry {
  at: number;
  event: 'opened' | 'updated' | 'escalated' | 'acknowledged' | 'resolved' | 'reopened' | 'overdue' | 'reported' | 'cleared';
  by?: string;
  note?: string;
  level?: Level;
}

/**
 * A security event (安全事件): the anomalies of one kind in one sector-region, deduplicated by
 * `key`, graded, and tracked from open to resolved. Times are wall-clock ms unless named
 * `...EventMs` (the event time of the evidence).
 */
export interface Incident {
  id: string;
  key: string;
  detector: string;
  kind: string;
  category: Category;
  level: Level;
  state: IncidentState;
  sector: string;
  region: string;
  code?: string;
  grade: Grade;
  criticalInfrastructure: boolean;
  regionWide: boolean;
  title: string;
  lastDetail: string;
  /** The latest anomaly's evidence, when a scored series raised it. */
  lastEvidence?: AnomalyEvidence;
  openedAt: number;
  updatedAt: number;
  firstEventMs: number;
  lastEventMs: number;
  /** Anomalies merged into it. */
  count: number;
  /** Devices affected, each with the event time it was first seen in this incident (bounded). */
  devices: Record<string, number>;
  deviceCount: number;
  /** The signal is still present (false once quiet for the clear time). */
  active: boolean;
  reportBy?: number;
  reportedAt?: number;
  reportedBy?: string;
  overdue: boolean;
  acknowledgedAt?: number;
  acknowledgedBy?: string;
  resolvedAt?: number;
  resolvedBy?: string;
  reopened: number;
  timeline: TimelineEntry[];
}

/** Incidents are deduplicated per kind of signal and sector-region. */
export function incidentKey(a: Anomaly): string {
  return `${a.detector}.${a.kind}|${a.sector}|${a.region}`;
}
