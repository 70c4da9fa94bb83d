import { Point } from '@influxdata/influxdb-client';
import type { CapacityPlan, MetricPlan } from './planner.js';
import { PROVINCE } from './statistics.js';

const line = (p: Point) => p.toLineProtocol()!;

/**
 * The plan as line protocol for the capacity dashboard: forecast curves (`capacity_forecast`,
 * future timestamps on a fixed grid, so a new plan overwrites the last), and per region and
 * metric the state now (`capacity_exhaustion`) and the recommendation (`capacity_recommendation`).
 */
export function planLines(plan: CapacityPlan): string[] {
  const out: string[] = [];
  const at = new Date(plan.generatedAt);
  const curve = (m: MetricPlan | { forecast: [number, number][] }, tags: Record<string, string>, limit?: number) => {
    for (const [t, v] of m.forecast) {
      const p = new Point('capacity_forecast').floatField('value', v).timestamp(new Date(t));
      for (const [k, val] of Object.entries(tags)) p.tag(k, val);
      if (limit !== undefined && Number.isFinite(limit)) p.floatField('limit', limit);
      out.push(line(p));
    }
  };
  const state = (m: MetricPlan, tags: Record<string, string>) => {
    const p = new Point('capacity_exhaustion').floatField('current', m.current).floatField('at_horizon', m.atHorizon).floatField('peak', m.peak).booleanField('exhausted', m.exhaustedAt !== null).timestamp(at);
    for (const [k, val] of Object.entries(tags)) p.tag(k, val);
    if (Number.isFinite(m.limit)) p.floatField('limit', m.limit);
    if (m.daysLeft !== null) p.floatField('days_left', m.daysLeft).stringField('exhausted_at', new Date(m.exhaustedAt!).toISOString());
    out.push(line(p));
  };
  for (const r of plan.regions) {
    for (const m of r.metrics) {
      curve(m, { region: r.region, sector: 'all', metric: m.metric }, m.limit);
      state(m, { region: r.region, metric: m.metric });
    }
    for (const s of r.sectors) curve(s, { region: r.region, sector: s.sector, metric: 'write_rate' });
    const rec = r.recommendation;
    out.push(line(new Point('capacity_recommendation').tag('region', r.region).intField('instances', rec.instances).intField('gateways', rec.gateways).intField('partitions', rec.partitions).floatField('storage_bytes', rec.storageBytes).floatField('cpu_cores', rec.cpuCores).stringField('actions', rec.actions.join('; ')).timestamp(at)));
  }
  for (const r of plan.resources) {
    curve(r, { region: PROVINCE, sector: r.sector, metric: 'series', code: r.code }, r.limit);
    state(r, { region: PROVINCE, metric: 'series', code: r.code });
  }
  return out;
}
