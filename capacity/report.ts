import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lineChart } from './chart.js';
import { formatBytes, type CapacityPlan, type MetricPlan } from './planner.js';

const DAY = 86_400_000;
const date = (t: number | null) => (t === null ? 'not within horizon' : new Date(t).toISOString().slice(0, 10));
const num = (v: number) => (!Number.isFinite(v) ? '∞' : v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(2));
const fmt = (m: Pick<MetricPlan, 'metric'>, v: number) => (m.metric === 'storage' ? formatBytes(v) : `${num(v)}`);
/** A forecast with its prediction interval: "1,234 (90 %: 1,100–1,370)". */
const withInterval = (m: MetricPlan) => `${fmt(m, m.atHorizon)} (${Math.round(m.interval.level * 100)} %: ${fmt(m, m.interval.low)}–${fmt(m, m.interval.high)})`;
const duration = (ms: number) => (ms >= 2 * DAY ? `${+(ms / DAY).toFixed(1)} days` : ms >= 3_600_000 ? `${+(ms / 3_600_000).toFixed(1)} h` : `${Math.round(ms / 1000)} s`);

/** Chart file names of a plan: one per region and metric, one per resource with series. */
const chartName = (region: string, metric: string) => `${region}-${metric}.svg`;

/** The plan as Markdown: a summary, then per region its metrics, sectors and recommendation. */
export function capacityMarkdown(plan: CapacityPlan, charts?: string): string {
  const horizonDays = Math.round(plan.horizonMs / DAY);
  const out = [
    '# Capacity plan',
    '',
    `Generated ${new Date(plan.generatedAt).toISOString()} from \`pipeline_stats\` ${plan.historyFrom === null ? '(no complete bucket yet)' : `${date(plan.historyFrom)} to ${date(plan.historyTo)}`} (${plan.bucketMs / 1000} s buckets), horizon ${horizonDays} days. Limits include the target utilisation.`,
    '',
  ];
  if (plan.historyFrom !== null && !plan.enoughHistory)
    return [...out, `Not enough history: ${duration(plan.historyMs)} of \`pipeline_stats\`; the planner needs at least ${duration(plan.minHistoryMs)} (\`capacity.minHistoryHours\`) before it forecasts or recommends anything.`, ''].join('\n');
  if (!plan.regions.length) return [...out, `No statistics yet: no ${plan.bucketMs / 1000} s bucket of \`pipeline_stats\` is complete. Run the pipeline (it writes them every \`capacity.statsEveryMs\`) for longer, or check that this config's \`capacity.statsEveryMs\` and InfluxDB are the pipeline's.`, ''].join('\n');
  const soonest = plan.regions.flatMap((r) => r.metrics.map((m) => ({ r: r.region, m }))).filter((x) => x.m.exhaustedAt !== null).sort((a, b) => a.m.exhaustedAt! - b.m.exhaustedAt!);
  out.push('## Summary', '');
  if (soonest.length) for (const x of soonest) out.push(`- **${x.r} ${x.m.metric}** runs out on ${date(x.m.exhaustedAt)} (${num(x.m.daysLeft!)} days)`);
  else out.push(`- No region runs out of write rate, storage or compute within ${horizonDays} days.`);
  const over = plan.resources.filter((r) => r.exhaustedAt !== null);
  for (const r of over) out.push(`- **${r.code}** (${r.measurement}) ${r.overBudgetNow ? 'is over' : `reaches on ${date(r.exhaustedAt)}`} its cardinality budget of ${r.budget} series`);
  out.push('');
  for (const r of plan.regions) {
    out.push(`## Region ${r.region}`, '', '| Metric | Now | At horizon | Peak | Limit | Runs out | Days left | Model |', '|---|---|---|---|---|---|---|---|');
    for (const m of r.metrics)
      out.push(`| ${m.metric} (${m.unit}) | ${fmt(m, m.current)} | ${withInterval(m)} | ${fmt(m, m.peak)} | ${fmt(m, m.limit)} | ${date(m.exhaustedAt)} | ${m.daysLeft === null ? '–' : num(m.daysLeft)} | HW α=${m.model.alpha} β=${m.model.beta} γ=${m.model.gamma} season=${m.model.period} |`);
    out.push('', '| Sector | Write rate now (points/s) | At horizon | Peak | Share at horizon |', '|---|---|---|---|---|');
    for (const s of r.sectors) out.push(`| ${s.sector} | ${num(s.current)} | ${num(s.atHorizon)} | ${num(s.peak)} | ${(s.share * 100).toFixed(0)} % |`);
    out.push('', `**Recommendation:** ${r.recommendation.instances} worker(s), ${r.recommendation.gateways} gateway(s), ${r.recommendation.partitions} partitions of jl.readings, ${formatBytes(r.recommendation.storageBytes)} storage, ${r.recommendation.cpuCores} cores.`, '');
    for (const a of r.recommendation.actions) out.push(`- ${a}`);
    if (charts) out.push('', ...r.metrics.filter((m) => m.metric !== 'compute').map((m) => `![${r.region} ${m.metric}](${charts}/${chartName(r.region, m.metric)})`));
    out.push('');
  }
  out.push('## Series per catalogue resource', '', '| Resource | Measurement | Sector | Series now | At horizon | Budget | Reaches budget |', '|---|---|---|---|---|---|---|');
  for (const r of plan.resources) out.push(`| ${r.code} | ${r.measurement} | ${r.sector} | ${num(r.current)} | ${withInterval(r)} | ${r.budget} | ${r.overBudgetNow ? '**over now**' : date(r.exhaustedAt)} |`);
  return out.join('\n') + '\n';
}

/** The plan as JSON, without the chart curves (they are in the SVG files and InfluxDB). */
export function capacityJson(plan: CapacityPlan): unknown {
  const strip = <T extends { actual?: unknown; forecast?: unknown }>({ actual: _a, forecast: _f, ...rest }: T) => rest;
  return {
    ...plan,
    regions: plan.regions.map((r) => ({ ...r, metrics: r.metrics.map(strip), sectors: r.sectors.map(strip) })),
    resources: plan.resources.map(strip),
  };
}

/** Writes capacity.md, capacity.json and the SVG charts into `dir`. */
export function writeCapacityReport(plan: CapacityPlan, dir: string): string[] {
  mkdirSync(join(dir, 'charts'), { recursive: true });
  const files = [join(dir, 'capacity.md'), join(dir, 'capacity.json')];
  writeFileSync(files[0], capacityMarkdown(plan, 'charts'));
  writeFileSync(files[1], JSON.stringify(capacityJson(plan), null, 2) + '\n');
  for (const r of plan.regions) {
    for (const m of r.metrics) {
      if (m.metric === 'compute') continue;
      const f = join(dir, 'charts', chartName(r.region, m.metric));
      const v = (x: number) => fmt(m, x);
      writeFileSync(f, lineChart(`${r.region} ${m.metric} (${m.unit})`, [{ label: 'actual', points: m.actual, colour: '#1f77b4' }, { label: 'forecast', points: m.forecast, colour: '#ff7f0e', dashed: true }], v, { value: m.limit, label: `limit ${v(m.limit)}` }));
      files.push(f);
    }
  }
  return files;
}
