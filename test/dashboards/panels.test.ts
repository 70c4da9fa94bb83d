import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VariableType, type Dashboard, type Panel, type VariableModel } from '@grafana/grafana-foundation-sdk/dashboard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { KafkaPoints, type KafkaConsumerFigures } from '../../capacity/kafka-points.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { packageRoot } from '../../config/paths.js';
import { buildDashboards } from '../../dashboards/build.js';
import type { InfluxQLDataquery } from '../../dashboards/influxql.js';
import { publishInOrder } from '../../ingest/simulator/publish.js';
import { buildScenarioRun, catalogueCadence } from '../../ingest/simulator/scenarios.js';
import { influxQuery, type Series } from '../../storage/influx/influxql.js';
import { getJson, TOKENS, testConfig, testLogger, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { tempDir, useServices } from '../helpers/services.js';

const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
const UNIT: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const NICE = ['1s', '5s', '10s', '20s', '30s', '1m', '5m', '10m', '30m', '1h', '3h', '12h', '1d'];
const ms = (d: string) => Number(d.slice(0, -1)) * UNIT[d.slice(-1)];

/** Grafana's relative time (`now-6h`, `now+90d`) as InfluxQL. */
const influxTime = (t: string) => (t === 'now' ? 'now()' : `now() ${t[3]} ${t.slice(4)}`);
const rangeMs = (t: string) => (t === 'now' ? 0 : (t[3] === '-' ? -1 : 1) * ms(t.slice(4)));

/** What Grafana substitutes for its macros and for a multi-value variable in a regex. */
function expand(query: string, d: Dashboard, vars: Map<string, string[]>): string {
  const from = d.time?.from ?? 'now-6h';
  const to = d.time?.to ?? 'now';
  const span = rangeMs(to) - rangeMs(from);
  const interval = NICE.find((n) => ms(n) >= span / 1000) ?? '1d';
  let q = query
    .replaceAll('$timeFilter', `time >= ${influxTime(from)} AND time <= ${influxTime(to)}`)
    .replaceAll('$__interval_ms', String(ms(interval)))
    .replaceAll('$__interval', interval);
  for (const [name, values] of [...vars].sort((a, b) => b[0].length - a[0].length)) {
    q = q.replaceAll(`$${name}`, `(${values.map((v) => v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})`);
  }
  return q;
}

/** The query of a constant or query variable: InfluxQL text in these dashboards. */
function queryText(v: VariableModel): string {
  if (typeof v.query !== 'string') throw new Error(`variable $${v.name}: the query is not text: ${JSON.stringify(v.query)}`);
  return v.query;
}

/**
 * The single process has no Kafka consumers, so `pipeline_kafka` is seeded as the Kafka roles
 * write it (the same KafkaPoints): two workers and a gateway over the last minutes, one point a
 * minute, with lag, partitions, commits and rebalances moving (a rebalance at the third minute).
 */
const KAFKA_MEMBERS = [
  { role: 'worker', instance: 'worker-1', topic: 'jl.readings', group: 'jl-workers', partitions: [0, 1, 2, 3] },
  { role: 'worker', instance: 'worker-2', topic: 'jl.readings', group: 'jl-workers', partitions: [4, 5, 6, 7] },
  { role: 'gateway', instance: 'gateway-1', topic: 'jl.ingest', group: 'jl-gateways', partitions: [0, 1] },
];
function kafkaSeed(now: number): string[] {
  const out: string[] = [];
  for (const [m, member] of KAFKA_MEMBERS.entries()) {
    const points = new KafkaPoints(member);
    for (let i = 0; i < 8; i++) {
      const lag = Object.fromEntries(member.partitions.map((p) => [p, 100 * (m + 1) + 10 * i + p]));
      const c: KafkaConsumerFigures = { topic: member.topic, group: member.group, partitions: member.partitions, lag, totalLag: Object.values(lag).reduce((a, b) => a + b, 0), rebalances: i < 3 ? 2 : 4, commits: 5 * (i + 1), commitErrors: 0, commitMs: Array.from({ length: 5 * (i + 1) }, (_, k) => 3 + ((k + m) % 7)), paused: false };
      out.push(...points.lines([c], now - (8 - i) * 60_000));
    }
  }
  return out;
}

/** True when some row has a value in a column other than time. */
const hasData = (series: Series[]) => series.some((s) => s.values.some((row) => row.some((v, i) => s.columns[i] !== 'time' && v !== null && v !== undefined)));

// Done-when 1 of the dashboards issue: the simulator runs through the pipeline into the real
// InfluxDB; then every panel query of every dashboard, with the template variables expanded to
// the real values their own queries return, gives at least one series with data.
// Done-when 3 (second half): the capacity report is produced on the real statistics of that run.
describe('every dashboard panel against the real InfluxDB', () => {
  const svc = useServices();
  let pipeline: Pipeline;
  let dataDir: string;
  let db: string;
  let config: ReturnType<typeof testConfig>;
  let report: string;
  let reportDir: string;

  beforeAll(async () => {
    dataDir = tempDir();
    const { file, fleet } = writeFleet(dataDir, 198);
    // A catalogue whose soil resource may have only 5 series: the fleet exceeds it.
    const catalogue = join(dataDir, 'catalogue.yaml');
    writeFileSync(catalogue, readFileSync(join(packageRoot(), 'config', 'catalogue', 'catalogue.yaml'), 'utf8').replace('cardinalityBudget: 20000', 'cardinalityBudget: 5'));
    config = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir, devices: file, catalogue });
    config.capacity.statsEveryMs = 1000;
    // Minutes of statistics: the planner is told to plan on them anyway (its default wants a day).
    config.capacity.minHistoryHours = 0;
    db = config.influx.database;
    pipeline = await Pipeline.start(config, { logger: testLogger() });
    await waitUntil(() => pipeline.source.subscribed, 10_000, 'subscribed');
    const run = buildScenarioRun(fleet, ['all'], { seed: 11, endMs: Date.now() - 60_000, cadence: catalogueCadence(loadCatalogue(config.catalogue)) });
    await publishInOrder(svc.mqttUrl, run.messages);
    await waitUntil(() => pipeline.ledger.totals().received === run.messages.length && pipeline.runtime.health().pending === 0, 120_000, 'every message settled');
    // Five more statistics intervals (the planner needs complete buckets), and the incident
    // events and gauges flushed.
    const intervals = async () => (await influxQuery({ url: svc.influxUrl, database: db }, 'SELECT count("rate") FROM "pipeline_health"'))[0]?.values[0][1] as number;
    const before = (await intervals()) ?? 0;
    await waitUntil(async () => ((await intervals()) ?? 0) >= before + 5, 20_000, 'statistics written');
    await waitUntil(() => pipeline.sideData.every((s) => s.pending === 0), 15_000, 'side points flushed');
    await pipeline.influx.writer!.write(kafkaSeed(Date.now()));

    // The capacity report, as an operator runs it: reads pipeline_stats, writes the forecast.
    // Its config names the same statistics interval as the pipeline's, so the history is read
    // in 1 s buckets; with the default 10 s the short run can fall into too few whole buckets.
    reportDir = join(dataDir, 'capacity');
    const cfg = join(dataDir, 'pipeline.yaml');
    writeFileSync(cfg, `catalogue: ${catalogue}\ndevices: ${file}\ndataDir: ${dataDir}\ninflux: { url: "${svc.influxUrl}", database: ${db} }\ncapacity: { statsEveryMs: 1000, minHistoryHours: 0 }\n`);
    const out = await promisify(execFile)(process.execPath, [cli, 'capacity', 'report', '-c', cfg, '--horizon', '90d', '--out', reportDir], { env: { ...process.env, JL_INFLUX_URL: '' }, timeout: 120_000 });
    report = out.stdout;
  }, 240_000);

  afterAll(async () => {
    await pipeline?.stop();
  });

  const dashboards = buildDashboards();

  it('the pipeline writes its statistics per sector, region and resource', async () => {
    const rows = await influxQuery({ url: svc.influxUrl, database: db }, 'SELECT sum("messages") FROM "pipeline_stats" GROUP BY "sector"');
    expect(rows.map((s) => s.tags!.sector).sort()).toEqual(['agri', 'energy', 'iiot', 'v2x']);
    const total = (await influxQuery({ url: svc.influxUrl, database: db }, 'SELECT sum("messages") FROM "pipeline_stats"'))[0].values[0][1];
    expect(total).toBe(pipeline.ledger.totals().received - pipeline.ledger.totals().deadLettered);
  });

  it('a resource over its cardinality budget raises an incident', () => {
    const inc = pipeline.incidents.all().filter((i) => i.detector === 'capacity');
    expect(inc).toHaveLength(1);
    expect(inc[0]).toMatchObject({ kind: 'cardinality_budget', sector: 'agri', category: 'security-hazard' });
  });

  for (const [file, d] of Object.entries(dashboards)) {
    it(`${file}: every panel query returns data`, async () => {
      const target = { url: svc.influxUrl, database: db };
      const vars = new Map<string, string[]>();
      for (const v of d.templating?.list ?? []) {
        if (v.type === VariableType.Constant) vars.set(v.name, [queryText(v)]);
        if (v.type !== VariableType.Query) continue;
        const q = expand(queryText(v), d, vars);
        const values = (await influxQuery(target, q)).flatMap((s) => s.values.map((r) => String(r[1])));
        expect(values.length, `${d.title}: variable $${v.name} (${q}) has no values`).toBeGreaterThan(0);
        vars.set(v.name, values);
      }
      const queries: { where: string; q: string }[] = [];
      for (const p of (d.panels ?? []) as Panel[]) for (const t of (p.targets ?? []) as InfluxQLDataquery[]) queries.push({ where: `${d.title} / panel "${p.title}"`, q: t.query });
      for (const a of d.annotations?.list ?? []) queries.push({ where: `${d.title} / annotation "${a.name}"`, q: (a.target as unknown as InfluxQLDataquery).query });
      expect(queries.length).toBeGreaterThan(3);
      for (const { where, q } of queries) {
        const expanded = expand(q, d, vars);
        let series: Series[];
        try {
          series = await influxQuery(target, expanded);
        } catch (e) {
          throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
        }
        expect(hasData(series), `${where}: no data for ${expanded}`).toBe(true);
      }
    });
  }

  // The generic check above only needs some data; this one pins each Kafka panel's series to the
  // seeded members and values, so a query on the wrong field, tag or grouping fails.
  it('pipeline-health.json: the Kafka panels show each consumer-group member', async () => {
    const d = dashboards['pipeline-health.json'];
    const panel = (title: string) => {
      const p = ((d.panels ?? []) as Panel[]).find((x) => x.title === title);
      expect(p, `panel "${title}"`).toBeDefined();
      return expand(((p!.targets ?? []) as InfluxQLDataquery[])[0].query, d, new Map());
    };
    const perMember = async (title: string) => {
      const series = await influxQuery({ url: svc.influxUrl, database: db }, panel(title));
      const values = (s: Series) => s.values.map((r) => r[1]).filter((v): v is number => typeof v === 'number');
      return Object.fromEntries(series.map((s) => [`${s.tags!.instance} ${s.tags!.topic}`, values(s)]));
    };
    const members = KAFKA_MEMBERS.map((m) => `${m.instance} ${m.topic}`).sort();
    const lag = await perMember('Consumer lag');
    expect(Object.keys(lag).sort()).toEqual(members);
    expect(Math.max(...lag['worker-2 jl.readings'])).toBe(4 * 200 + 4 * 70 + (4 + 5 + 6 + 7));
    const owned = await perMember('Partitions owned');
    expect(Object.keys(owned).sort()).toEqual(members);
    expect(new Set(owned['gateway-1 jl.ingest'])).toEqual(new Set([2]));
    const commits = await perMember('Commit latency');
    expect(Object.keys(commits).sort()).toEqual(members);
    expect(Math.max(...commits['worker-1 jl.readings'])).toBe(9);
    const rebalances = await perMember('Rebalances');
    expect(Object.keys(rebalances).sort()).toEqual(members);
    for (const m of members) expect(rebalances[m].reduce((a, b) => a + b, 0), m).toBe(2);
  });

  it('capacity report: Markdown per region and sector, JSON and SVG charts from the real statistics', async () => {
    expect(report).toMatch(/^# Capacity plan/);
    for (const region of ['220100', '220200', '220300']) expect(report).toContain(`## Region ${region}`);
    expect(report).toMatch(/\| agri \| [\d.,]+ \|/);
    expect(report).toMatch(/JL-NY-0101-001 .*\*\*over now\*\*/);
    const json = JSON.parse(readFileSync(join(reportDir, 'capacity.json'), 'utf8')) as { regions: { region: string; metrics: { metric: string; current: number }[]; recommendation: { instances: number } }[] };
    const rate = json.regions[0].metrics.find((m) => m.metric === 'write_rate')!;
    expect(rate.current).toBeGreaterThan(0);
    expect(json.regions[0].recommendation.instances).toBeGreaterThanOrEqual(1);
    expect(readFileSync(join(reportDir, 'charts', `${json.regions[0].region}-write_rate.svg`), 'utf8')).toMatch(/^<svg[\s\S]*<path d="M/);
  });

  it('GET /capacity gives the same plan to a viewer, as JSON and as Markdown, and writes nothing', async () => {
    const written = async () => Number((await influxQuery({ url: svc.influxUrl, database: db }, 'SELECT count("value") FROM "capacity_forecast"'))[0]?.values[0][1] ?? 0);
    const before = await written();
    expect(before).toBeGreaterThan(0); // the report wrote its forecast
    const { status, body: plan } = await getJson<{ regions: { region: string }[]; resources: { code: string; overBudgetNow: boolean }[] }>(pipeline.httpPort!, '/capacity?horizon=90d');
    expect(status).toBe(200);
    expect(plan.regions.map((r) => r.region)).toEqual(expect.arrayContaining(['220100', '220200', '220300']));
    expect(plan.resources.find((r) => r.code === 'JL-NY-0101-001')?.overBudgetNow).toBe(true);
    const md = await fetch(`http://127.0.0.1:${pipeline.httpPort}/capacity?format=markdown`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } });
    expect(md.headers.get('content-type')).toMatch(/text\/markdown/);
    expect(await md.text()).toMatch(/^# Capacity plan/);
    // A GET reads: only the scheduled plan and `jlpipe capacity report` write the forecast.
    await new Promise((r) => setTimeout(r, 500));
    expect(await written()).toBe(before);
  });

  it('capacity report with the default minimum history: "not enough history", no recommendation', async () => {
    const cfg = join(pipeline.config.dataDir, 'capacity-default.yaml');
    writeFileSync(cfg, `catalogue: ${pipeline.config.catalogue}\ndevices: ${pipeline.config.devices}\ndataDir: ${pipeline.config.dataDir}\ninflux: { url: "${svc.influxUrl}", database: ${db} }\ncapacity: { statsEveryMs: 1000 }\n`);
    const out = join(pipeline.config.dataDir, 'capacity-default');
    await promisify(execFile)(process.execPath, [cli, 'capacity', 'report', '-c', cfg, '--horizon', '90d', '--out', out], { env: { ...process.env, JL_INFLUX_URL: '' }, timeout: 120_000 });
    expect(readFileSync(join(out, 'capacity.md'), 'utf8')).toMatch(/Not enough history: \d+ s of `pipeline_stats`; the planner needs at least 24 h/);
    expect(JSON.parse(readFileSync(join(out, 'capacity.json'), 'utf8'))).toMatchObject({ enoughHistory: false, regions: [] });
  });
});
