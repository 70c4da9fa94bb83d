/** Incident config and anomalies shared by the incident tests. */
import type { GradingConfig } from '../../alerts/grading.js';
import type { IncidentsConfig } from '../../alerts/incidents.js';
import type { Anomaly } from '../../core/anomaly.js';

export const T0 = 1_780_000_000_000;
export const grading: GradingConfig = { devicesForOneLevel: 10, devicesForTwoLevels: 100, reportWithinMsCritical: 3_600_000, reportWithinMs: 14_400_000 };
export const cfg: IncidentsConfig = { openAfter: 1, openWindowMs: 60_000, clearAfterMs: 600_000, reopenWindowMs: 600_000, logUpdatesEveryMs: 0, maxDevices: 1000, grading };

/** A forged-signature anomaly of one energy meter, with any field overridden. */
export const anomaly = (o: Partial<Anomaly> = {}): Anomaly => ({
  detector: 'forgery',
  kind: 'bad_signature',
  category: 'network-attack',
  baseLevel: 4,
  sector: 'energy',
  region: '220100',
  device: 'meter-220100-0001',
  grade: 'important',
  criticalInfrastructure: false,
  eventMs: T0,
  detail: 'signature does not match',
  ...o,
});
