import type { Catalogue } from '../config/catalogue.js';
import type { QueryTarget } from '../storage/influx/influxql.js';
import type { LineWriter } from '../storage/influx/writer.js';
import type { CapacityConfig } from './config.js';
import { planLines } from './forecast-points.js';
import { readHistory } from './history.js';
import { planCapacityAsync, type CapacityPlan } from './planner.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Reads the pipeline's statistics from InfluxDB, plans, and (with a writer) writes the forecast
 * back for the capacity dashboard. Used by `jlpipe capacity report` and `GET /capacity`. The
 * work is done in slices (a region or resource at a time) so the event loop keeps turning;
 * a horizon over MAX_HORIZON_DAYS rejects with a RangeError.
 */
export async function runCapacityPlan(t: QueryTarget, config: CapacityConfig, catalogue: Catalogue, horizonMs: number, writer?: LineWriter): Promise<CapacityPlan> {
  const history = await readHistory(t, config);
  const resources = catalogue.entries.map((e) => ({ code: e.code, measurement: e.measurement, sector: e.sector, cardinalityBudget: e.cardinalityBudget }));
  const plan = await planCapacityAsync(history, config, resources, horizonMs);
  if (writer) {
    // planLines of the whole plan is these parts' lines in this order.
    const parts = [...plan.regions.map((r) => ({ ...plan, regions: [r], resources: [] })), ...plan.resources.map((r) => ({ ...plan, regions: [], resources: [r] }))];
    let lines: string[] = [];
    for (const part of parts) {
      lines.push(...planLines(part));
      if (lines.length >= 5000) {
        await writer.write(lines);
        lines = [];
      } else await turn();
    }
    if (lines.length) await writer.write(lines);
  }
  return plan;
}
