import type { CoreParams } from '../score/core.js';
import type { SpikeConfig } from './config.js';

type Constants = Omit<CoreParams, 'daily'>;
const CONSTANTS = ['alpha', 'beta', 'noiseMemory', 'clipZ', 'fullZ', 'shiftK', 'shiftH', 'shiftRule', 'warmup', 'fitFrom', 'reportFrom', 'memory', 'dailyMemoryDays', 'dailyFloor', 'explainZ', 'range', 'rangeTolerance', 'sensitivity', 'minZ', 'silence', 'eventZ', 'eventMax', 'dailyFromDays', 'averageOf', 'utcOffsetMinutes'] as const satisfies readonly (keyof Constants)[];

/**
 * The scoring core's constants for one field: the section's own, then the measurement's override,
 * then the field's (`measurement.field`). `daily` says whether the field keeps a time-of-day
 * baseline. `profile` (e.g. `nab`) replaces the measurement for `jlpipe nab`.
 */
export function coreParams(cfg: SpikeConfig, measurement: string, field?: string, daily = field !== undefined && (cfg.daily[measurement] ?? []).includes(field)): CoreParams {
  const out = Object.fromEntries(CONSTANTS.map((k) => [k, cfg[k]])) as Constants;
  for (const key of [measurement, field === undefined ? undefined : `${measurement}.${field}`]) {
    const o = key === undefined ? undefined : cfg.overrides[key];
    if (o) Object.assign(out, Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
  }
  return { ...out, daily };
}
