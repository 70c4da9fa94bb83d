import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Point } from '@influxdata/influxdb-client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncidentManager } from '../../alerts/incidents.js';
import type { SubscriptionStore } from '../../alerts/subscriptions.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { runCapacityPlan } from '../../capacity/run.js';
import { loadCatalogue } from '../../config/catalogue.js';
import type { Anomaly } from '../../core/anomaly.js';
import { hashToken, type ApiToken } from '../../server/auth.js';
import { buildHttp } from '../../server/http.js';
import { buildMetrics } from '../../server/metrics.js';
import { AutoWriter } from '../../storage/influx/auto-writer.js';
import { stopEach, tempDir, uniqueName, useServices } from '../helpers/services.js';

// Security review (issue 10): row 1 (an unbounded capacity horizon takes the process down),
// row 16 (no security headers; API users see incidents above their clearance), done-when 5.

const tokens: (ApiToken & { token: string })[] = [
  { name: 'wall-screen', role: 'viewer', token: 'viewer-default-token' },
  { name: 'city-analyst', role: 'viewer', clearance: 'important', token: 'viewer-important-token' },
  { name: 'province-analyst', role: 'viewer', clearance: 'core', token: 'viewer-core-token' },
  { name: 'contractor', role: 'operator', clearance: 'general', token: 'operator-general-token' },
  { name: 'duty-desk', role: 'operator', token: 'operator-default-token' },
  { name: 'admin', role: 'admin', token: 'admin-token' },
].map((t) => ({ ...t, sha256: hashToken(t.token) }) as ApiToken & { token: string });
const auth = (name: string) => ({ authorization: `Bearer ${tokens.find((t) => t.name === name)!.token}` });

const anomaly = (o: Partial<Anomaly>): Anomaly => ({ detector: 'forgery', kind: 'bad_signature', category: 'network-attack', baseLevel: 4, sector: 'energy', region: '220100', device: 'meter-220100-0001', grade: 'important', criticalInfrastructure: true, eventMs: Date.now(), detail: 'signature does not match', ...o });

describe('security review hardening of the HTTP API', () => {
  const svc = useServices();
  const config = loadPipelineConfig(defaultConfigFile(), {});
  const catalogue = loadCatalogue(config.catalogue);
  let app: FastifyInstance;
  let port: number;
  let incidents: IncidentManager;
  let writer: AutoWriter;
  const ids = { general: '', important: '', core: '' };
  const regions = [...catalogue.divisions.keys()].filter((c) => c !== '220000');

  beforeAll(async () => {
    const dir = tempDir();
    incidents = new IncidentManager(join(dir, 'incidents.log'), config.incidents);
    incidents.observe(anomaly({ detector: 'flatline', kind: 'stuck', category: 'device-fault', sector: 'agri', grade: 'general', device: 'soil-220100-0001', criticalInfrastructure: false }));
    incidents.observe(anomaly({}));
    incidents.observe(anomaly({ detector: 'flatline', kind: 'stuck', category: 'device-fault', sector: 'iiot', grade: 'core', device: 'plc-220100-0001', criticalInfrastructure: true }));
    for (const i of incidents.all()) ids[i.grade] = i.id;

    // A demo-sized history like the review's: every region and resource, 500 buckets of 10 s.
    const target = { ...config.influx, url: svc.influxUrl, database: uniqueName('jl_hardening') };
    writer = new AutoWriter(target, 'auto');
    await writer.init();
    const end = Math.floor(Date.now() / 10_000) * 10_000;
    const lines: string[] = [];
    for (let i = 500; i >= 1; i--)
      for (const region of regions)
        for (const e of catalogue.entries) {
          const points = 200 + i;
          lines.push(new Point('pipeline_stats').tag('sector', e.sector).tag('region', region).tag('code', e.code).tag('measurement', e.measurement).tag('instance', 'test').intField('messages', points).intField('points', points).intField('bytes', points * 80).intField('field_values', points * 4).intField('series', 100).intField('devices_online', 10).intField('devices_registered', 10).floatField('cpu_ms', points * 0.05).intField('interval_ms', 10_000).timestamp(new Date(end - i * 10_000)).toLineProtocol()!);
        }
    for (let i = 0; i < lines.length; i += 10_000) await writer.write(lines.slice(i, i + 10_000));

    app = buildHttp({
      ready: () => ({ ok: true, checks: { subscribed: true } }),
      stats: () => ({ totals: { received: 1 }, incidents: incidents.counts() }),
      catalogue: () => catalogue,
      incidents,
      // Never reached here: the subscription requests below stop at authorisation or parsing.
      subscriptions: {} as SubscriptionStore,
      tokens: () => tokens,
      // 83 minutes of history: planned anyway (the cost is what is tested; the default wants a day).
      capacity: (horizonMs) => runCapacityPlan(target, { ...config.capacity, minHistoryHours: 0 }, catalogue, horizonMs, writer),
      metrics: buildMetrics({ ledger: () => ({ sources: {}, reasons: {} }), spoolBytes: () => 0, influxUp: () => true, anomalies: () => ({}), late: () => 0, incidents: () => incidents.counts(), outboxPending: () => 0, deliveryFailures: () => 0 }),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  }, 120_000);
  afterAll(() =>
    stopEach(
      () => app?.close(),
      () => incidents?.close(),
      () => writer?.close(),
    ),
  );

  it('refuses a capacity horizon over 3650 days with 400 naming the limit', async () => {
    for (const horizon of ['3651d', '5256001m', '99999999d', '9'.repeat(400) + 'd']) {
      const r = await app.inject({ url: `/capacity?horizon=${horizon}`, headers: auth('wall-screen') });
      expect(r.statusCode, horizon).toBe(400);
      expect(r.json(), horizon).toMatchObject({ error: 'bad_request', field: 'querystring/horizon', message: expect.stringMatching(/limit of 3650d/) });
    }
  });

  it('plans the longest horizon quickly while /healthz keeps answering', async () => {
    // /healthz every 10 ms; each answer timed from when it was due (a blocked loop delays the sending too).
    let stop = false;
    const waits: number[] = [];
    const probe = (async () => {
      let due = performance.now();
      while (!stop) {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        await res.arrayBuffer();
        waits.push(performance.now() - due);
        due += 10;
        const rest = due - performance.now();
        if (rest > 0) await new Promise((r) => setTimeout(r, rest));
        else due = performance.now();
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/capacity?horizon=3650d`, { headers: auth('wall-screen') });
    const plan = (await res.json()) as { horizonMs: number; regions: unknown[]; resources: unknown[] };
    const took = performance.now() - started;
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await probe;
    const worst = Math.max(...waits);
    const sorted = [...waits].sort((a, b) => a - b);
    console.log(`GET /capacity?horizon=3650d: ${took.toFixed(0)} ms; /healthz meanwhile: ${waits.length} answers, median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms, p99 ${sorted[Math.floor(sorted.length * 0.99)].toFixed(1)} ms, worst ${worst.toFixed(1)} ms`);
    expect(res.status).toBe(200);
    expect(plan.horizonMs).toBe(3650 * 86_400_000);
    expect(plan.regions).toHaveLength(regions.length);
    expect(took).toBeLessThan(15_000);
    // The review's bar is 100 ms; a generous bound here for a loaded CI machine.
    expect(worst).toBeLessThan(500);
  });

  it('computes one plan at a time and turns away requests past a few pending', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => fetch(`http://127.0.0.1:${port}/capacity?horizon=3650d`, { headers: auth('wall-screen') }).then(async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), body: (await r.json()) as { error?: string } }))));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
    for (const a of answers.filter((x) => x.status === 429)) expect(a).toMatchObject({ retry: '10', body: { error: 'busy' } });
  });

  it('puts security headers on every response', async () => {
    const requests = [
      { url: '/healthz' },
      { url: '/readyz' },
      { url: '/metrics' },
      { url: '/stats' },
      { url: '/nowhere', headers: auth('admin') },
      { url: '/incidents?maxLevel=9', headers: auth('admin') },
      { url: '/capacity?horizon=99999999d', headers: auth('admin') },
      { url: '/incidents', headers: auth('admin') },
      { url: `/incidents/${ids.general}/report?format=md`, headers: auth('admin') },
      { url: `/incidents/${ids.core}`, headers: auth('wall-screen') },
      { method: 'POST' as const, url: '/subscriptions', payload: {}, headers: auth('wall-screen') },
      { method: 'POST' as const, url: '/subscriptions', payload: '{', headers: { ...auth('admin'), 'content-type': 'application/json' } },
      { url: '/%E0%A4%A' },
    ];
    const statuses = new Set<number>();
    for (const r of requests) {
      const res = await app.inject(r);
      statuses.add(res.statusCode);
      const what = `${r.method ?? 'GET'} ${r.url} (${res.statusCode})`;
      expect(res.headers['x-content-type-options'], what).toBe('nosniff');
      expect(res.headers['x-frame-options'], what).toBe('DENY');
      expect(res.headers['referrer-policy'], what).toBe('no-referrer');
      expect(res.headers['cache-control'], what).toBe('no-store');
      expect(res.headers['content-security-policy'], what).toMatch(/(^|;)default-src 'none'(;|$)/);
      expect(res.headers['content-security-policy'], what).toMatch(/frame-ancestors 'none'/);
    }
    expect([...statuses].sort()).toEqual([200, 400, 401, 403, 404]);
  });

  it('a viewer without a clearance sees only incidents about general data, the others do not exist for it', async () => {
    const list = (await app.inject({ url: '/incidents', headers: auth('wall-screen') })).json();
    expect(list.total).toBe(1);
    expect(list.items.map((i: { id: string }) => i.id)).toEqual([ids.general]);
    expect((await app.inject({ url: '/incidents?sector=energy', headers: auth('wall-screen') })).json().total).toBe(0);
    for (const grade of ['important', 'core'] as const) {
      const id = ids[grade];
      for (const url of [`/incidents/${id}`, `/incidents/${id}/report`, `/incidents/${id}/report?format=md`]) {
        const r = await app.inject({ url, headers: auth('wall-screen') });
        expect(r.statusCode, url).toBe(404);
        // The same answer as for an incident that does not exist.
        expect(r.json(), url).toEqual({ error: 'not_found', message: `no incident ${id}` });
      }
    }
    expect((await app.inject({ url: `/incidents/${ids.general}/report`, headers: auth('wall-screen') })).statusCode).toBe(200);
    // Counts in /stats cover only what the caller may see.
    expect((await app.inject({ url: '/stats', headers: auth('wall-screen') })).json().incidents).toEqual({ open: 1, acknowledged: 0, resolved: 0, overdue: 0 });
    expect((await app.inject({ url: '/stats', headers: auth('province-analyst') })).json().incidents).toEqual({ open: 3, acknowledged: 0, resolved: 0, overdue: 0 });
  });

  it('each clearance sees its grade and below; operators default to core', async () => {
    const seen = async (name: string) => ((await app.inject({ url: '/incidents', headers: auth(name) })).json().items as { grade: string }[]).map((i) => i.grade).sort();
    expect(await seen('city-analyst')).toEqual(['general', 'important']);
    expect(await seen('province-analyst')).toEqual(['core', 'general', 'important']);
    expect(await seen('contractor')).toEqual(['general']);
    expect(await seen('duty-desk')).toEqual(['core', 'general', 'important']);
    expect((await app.inject({ url: `/incidents/${ids.core}`, headers: auth('city-analyst') })).statusCode).toBe(404);
    expect((await app.inject({ url: `/incidents/${ids.important}`, headers: auth('city-analyst') })).statusCode).toBe(200);
  });

  it('an operator cannot act on an incident above its clearance', async () => {
    for (const action of ['ack', 'resolve']) {
      const r = await app.inject({ method: 'POST', url: `/incidents/${ids.core}/${action}`, payload: {}, headers: auth('contractor') });
      expect(r.statusCode, action).toBe(404);
    }
    expect(incidents.get(ids.core).state).toBe('open');
    expect((await app.inject({ method: 'POST', url: `/incidents/${ids.general}/ack`, payload: {}, headers: auth('contractor') })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: `/incidents/${ids.core}/ack`, payload: {}, headers: auth('duty-desk') })).statusCode).toBe(200);
  });

  it('config: tokens without a clearance still load; a clearance is one of the grades', () => {
    const dir = tempDir();
    const load = (extra: string) => {
      const file = join(dir, 'pipeline.yaml');
      writeFileSync(file, `api:\n  tokens:\n    - { name: a, role: viewer, sha256: "${'a'.repeat(64)}"${extra} }\n`);
      return loadPipelineConfig(file, {}).api.tokens[0];
    };
    expect(load('').clearance).toBeUndefined();
    expect(load(', clearance: important').clearance).toBe('important');
    expect(() => load(', clearance: secret')).toThrow(/clearance/);
  });
});
