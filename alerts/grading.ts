import type { Category, Level } from '../core/anomaly.js';
import type { GradingConfig } from './config.js';
import type { Incident } from './incident.js';

export type { GradingConfig } from './config.js';

/** Categories where the data itself is at risk: the data grade escalates them. */
const DATA_AT_RISK: Category[] = ['network-attack', 'data-security', 'malware'];

/**
 * The level of an incident (I most severe .. IV), from its base level (IV for every processor)
 * and its scope. Each rule raises it by one level, to at most I:
 * - data at risk (network attack, data security) on `important` data: +1; on `core` data: +2;
 * - devices affected >= devicesForOneLevel: +1; >= devicesForTwoLevels: +2;
 * - region-wide (a whole sector-region silent or flooding): +1;
 * - critical infrastructure involved and the scope is region-wide or >= devicesForOneLevel: +1.
 * So one forged meter message (important data) is III, one stuck soil probe is IV, a region of
 * meters going silent (critical infrastructure) is II.
 */
export function levelOf(i: Pick<Incident, 'category' | 'grade' | 'deviceCount' | 'regionWide' | 'criticalInfrastructure'>, base: Level, g: GradingConfig): Level {
  let up = 0;
  if (DATA_AT_RISK.includes(i.category)) up += i.grade === 'core' ? 2 : i.grade === 'important' ? 1 : 0;
  const wide = i.regionWide || i.deviceCount >= g.devicesForOneLevel;
  up += i.deviceCount >= g.devicesForTwoLevels ? 2 : i.deviceCount >= g.devicesForOneLevel ? 1 : 0;
  if (i.regionWide) up += 1;
  if (i.criticalInfrastructure && wide) up += 1;
  return Math.max(1, base - up) as Level;
}

/** Report-by deadline: level III and above must be reported; critical infrastructure sooner. */
export function reportDeadline(level: Level, critical: boolean, openedAt: number, g: GradingConfig): number | undefined {
  if (level > 3) return undefined;
  return openedAt + (critical ? g.reportWithinMsCritical : g.reportWithinMs);
}
