import type { Catalogue } from '../config/catalogue.js';
import type { QueryTarget } from '../storage/influx/influxql.js';
import type { LineWriter } from '../storage/influx/writer.js';
import type { CapacityConfig } from './config.js';
import { planLines } from './forecast-points.js';
import { readHistory } from './history.js';
import { planCapacity, type CapacityPlan } from './planner.js';

/**
 * Reads the pipeline's statistics from InfluxDB, plans, and (with a writer) writes the forecast
 * back for the capacity dashboard. Used by `jlpipe capacity report` and `GET /capacity`.
 */
export async function runCapacityPlan(t: QueryTarget, config: CapacityConfig, catalogue: Catalogue, horizonMs: number, writer?: LineWriter): Promise<CapacityPlan> {
  const history = await readHistory(t, config);
  const resources = catalogue.entries.map((e) => ({ code: e.code, measurement: e.measurement, sector: e.sector, cardinalityBudget: e.cardinalityBudget }));
  const plan = planCapacity(history, config, resources, horizonMs);
  if (writer) {
    const lines = planLines(plan);
    for (let i = 0; i < lines.length; i += 5000) await writer.write(lines.slice(i, i + 5000));
  }
  return plan;
}
