import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressPolicy } from '../../alerts/egress.js';
import { IncidentManager } from '../../alerts/incidents.js';
import { SubscriptionStore } from '../../alerts/subscriptions.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import type { Anomaly } from '../../core/anomaly.js';
import { hashToken, type ApiToken } from '../../server/auth.js';
import { buildHttp } from '../../server/http.js';
import { buildMetrics } from '../../server/metrics.js';
import { TOKENS } from '../helpers/pipeline.js';
import { stopEach, tempDir } from '../helpers/services.js';

// Cleared for core: these tests read an incident about important data (clearances: test/server/hardening.test.ts).
const tokens: ApiToken[] = (Object.keys(TOKENS) as (keyof typeof TOKENS)[]).map((role) => ({ name: `api-${role}`, role, clearance: 'core', sha256: hashToken(TOKENS[role]) }));
const auth = (role?: keyof typeof TOKENS) => (role ? { authorization: `Bearer ${TOKENS[role]}` } : {});

const anomaly = (o: Partial<Anomaly> = {}): Anomaly => ({ detector: 'forgery', kind: 'bad_signature', category: 'network-attack', baseLevel: 4, sector: 'energy', region: '220100', device: 'meter-220100-0001', grade: 'important', criticalInfrastructure: true, eventMs: Date.now(), detail: 'signature does not match', ...o });

describe('HTTP API', () => {
  let app: FastifyInstance;
  let incidents: IncidentManager;
  const webhook = { name: 'city duty desk', filters: { sectors: ['energy'], minLevel: 3 }, clearance: 'important', channel: { type: 'webhook', url: 'http://127.0.0.1:9/hook', secret: 'a-long-enough-secret' } };

  beforeAll(async () => {
    const dir = tempDir();
    const config = loadPipelineConfig(defaultConfigFile(), {});
    incidents = new IncidentManager(join(dir, 'incidents.log'), config.incidents);
    incidents.observe(anomaly());
    incidents.observe(anomaly({ detector: 'flatline', kind: 'stuck', category: 'device-fault', sector: 'agri', grade: 'general', device: 'soil-220100-0001', criticalInfrastructure: false }));
    const catalogue = loadCatalogue(config.catalogue);
    // The webhook below is on 127.0.0.1: the egress policy must list it (alerts.egress).
    const subscriptions = new SubscriptionStore(join(dir, 'subscriptions.json'), new EgressPolicy({ ...config.alerts.egress, allow: ['127.0.0.1'] }));
    app = buildHttp({
      ready: () => ({ ok: true, checks: { subscribed: true } }),
      stats: () => ({ totals: { received: 1 } }),
      catalogue: () => catalogue,
      incidents,
      subscriptions,
      tokens: () => tokens,
      // No InfluxDB here: the real plan is tested against InfluxDB in test/integration/dashboards.
      capacity: () => Promise.reject(new Error('connect ECONNREFUSED')),
      metrics: buildMetrics({ ledger: () => ({ sources: { 'energy/220100/meter': { received: 5, stored: 4, deadLettered: 1, inSpool: 0 } }, reasons: { bad_signature: 1 } }), spoolBytes: () => 0, influxUp: () => true, anomalies: () => ({ 'forgery.bad_signature': 1 }), late: () => 0, incidents: () => incidents.counts(), outboxPending: () => 0, deliveryFailures: () => 0 }),
    });
    await app.ready();
  });
  // Each step also when beforeAll failed part way (unset) or an earlier step fails.
  afterAll(() =>
    stopEach(
      () => app?.close(),
      () => incidents?.close(),
    ),
  );

  const id = () => incidents.list({ category: 'network-attack' }).items[0].id;
  const mutating = () => [
    { method: 'POST', url: `/incidents/${id()}/ack`, payload: {} },
    { method: 'POST', url: `/incidents/${id()}/resolve`, payload: {} },
    { method: 'POST', url: '/subscriptions', payload: webhook },
    { method: 'PUT', url: '/subscriptions/sub-x', payload: webhook },
    { method: 'DELETE', url: '/subscriptions/sub-x' },
  ] as const;
  const reads = ['/stats', '/catalogue', '/incidents', `/incidents/x`, '/incidents/x/report', '/subscriptions', '/capacity'];

  it('health, readiness and metrics are open; metrics are Prometheus text', async () => {
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready', checks: { subscribed: true } });
    const m = await app.inject({ url: '/metrics' });
    expect(m.headers['content-type']).toMatch(/text\/plain/);
    expect(m.body).toContain('jl_messages_received_total{sector="energy",region="220100",type="meter"} 5');
    expect(m.body).toContain('jl_incidents{state="open"} 2');
  });

  it('401 without a token (or with a wrong one) on every other endpoint', async () => {
    for (const r of [...reads.map((url) => ({ method: 'GET' as const, url })), ...mutating()]) {
      expect((await app.inject({ ...r })).statusCode, `${r.method} ${r.url}`).toBe(401);
      expect((await app.inject({ ...r, headers: { authorization: 'Bearer nope' } })).statusCode, `${r.method} ${r.url}`).toBe(401);
    }
  });

  it('403 for a viewer on every mutating endpoint, and for an operator on subscriptions', async () => {
    for (const r of mutating()) expect((await app.inject({ ...r, headers: auth('viewer') })).statusCode, `${r.method} ${r.url}`).toBe(403);
    // Authorisation comes before validation: a viewer learns nothing from a bad body either.
    expect((await app.inject({ method: 'POST', url: '/subscriptions', payload: { bad: 1 }, headers: auth('viewer') })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/subscriptions', payload: { bad: 1 } })).statusCode).toBe(401);
    for (const r of mutating().slice(2)) expect((await app.inject({ ...r, headers: auth('operator') })).statusCode, `${r.method} ${r.url}`).toBe(403);
  });

  it('400 naming the offending field for bad bodies and queries', async () => {
    const bad = async (method: 'POST' | 'PUT' | 'GET', url: string, payload: unknown, role: keyof typeof TOKENS = 'admin') => {
      const r = await app.inject({ method, url, payload: payload as object, headers: auth(role) });
      expect(r.statusCode, `${url} ${JSON.stringify(payload)}`).toBe(400);
      return r.json<{ field: string; message: string }>();
    };
    expect((await bad('POST', '/subscriptions', { ...webhook, channel: { type: 'webhook', url: 'http://x/' } })).message).toMatch(/channel/);
    expect((await bad('POST', '/subscriptions', { ...webhook, filters: { minLevel: 7 } })).field).toBe('body/filters/minLevel');
    expect((await bad('POST', '/subscriptions', { ...webhook, clearance: 'secret' })).field).toBe('body/clearance');
    expect((await bad('POST', '/subscriptions', { ...webhook, colour: 'red' })).field).toBe('body/colour');
    expect((await bad('POST', '/subscriptions', { filters: {} })).field).toBe('body/name');
    expect((await bad('POST', `/incidents/${id()}/ack`, { note: 5 }, 'operator')).field).toBe('body/note');
    expect((await bad('GET', '/incidents?maxLevel=9', undefined, 'viewer')).field).toBe('querystring/maxLevel');
    expect((await bad('GET', '/capacity?horizon=forever', undefined, 'viewer')).field).toBe('querystring/horizon');
    const notJson = await app.inject({ method: 'POST', url: '/subscriptions', payload: '{', headers: { ...auth('admin'), 'content-type': 'application/json' } });
    expect(notJson.statusCode).toBe(400);
  });

  it('capacity answers 503 naming the cause when InfluxDB cannot be read', async () => {
    const r = await app.inject({ method: 'GET', url: '/capacity', headers: auth('viewer') });
    expect(r.statusCode).toBe(503);
    expect(r.json().message).toMatch(/InfluxDB: connect ECONNREFUSED/);
  });

  it('lists, filters and pages incidents, shows one and its report in JSON and Markdown', async () => {
    const all = (await app.inject({ url: '/incidents', headers: auth('viewer') })).json();
    expect(all.total).toBe(2);
    const levelIII = (await app.inject({ url: '/incidents?maxLevel=3', headers: auth('viewer') })).json();
    expect(levelIII.items.map((i: { kind: string }) => i.kind)).toEqual(['bad_signature']);
    expect((await app.inject({ url: '/incidents?sector=agri&limit=1', headers: auth('viewer') })).json().items).toHaveLength(1);
    expect((await app.inject({ url: '/incidents?offset=1&limit=1', headers: auth('viewer') })).json().items).toHaveLength(1);
    expect((await app.inject({ url: `/incidents/${id()}`, headers: auth('viewer') })).json().level).toBe(3);
    expect((await app.inject({ url: '/incidents/INC-none', headers: auth('viewer') })).statusCode).toBe(404);
    const report = (await app.inject({ url: `/incidents/${id()}/report`, headers: auth('viewer') })).json();
    expect(report.scope.devices).toEqual(['meter-220100-0001']);
    expect(report.when.reportBy).toBeTruthy();
    expect(report.grade.grade).toBe('important');
    const md = await app.inject({ url: `/incidents/${id()}/report?format=md`, headers: auth('viewer') });
    expect(md.headers['content-type']).toMatch(/text\/markdown/);
    expect(md.body).toMatch(/^# Incident report INC-/);
    expect(md.body).toContain('**Level III**');
  });

  it('operator acknowledges and resolves with who and when; a second resolve is a conflict', async () => {
    const ack = await app.inject({ method: 'POST', url: `/incidents/${id()}/ack`, payload: { note: 'on it', reported: true }, headers: auth('operator') });
    expect(ack.statusCode).toBe(200);
    expect(ack.json()).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'api-operator', reportedBy: 'api-operator' });
    const res = await app.inject({ method: 'POST', url: `/incidents/${id()}/resolve`, payload: { note: 'keys rotated' }, headers: auth('operator') });
    expect(res.json()).toMatchObject({ state: 'resolved', resolvedBy: 'api-operator' });
    expect((await app.inject({ method: 'POST', url: `/incidents/${id()}/resolve`, headers: auth('operator') })).statusCode).toBe(409);
    const report = await app.inject({ url: `/incidents/${id()}/report?format=md`, headers: auth('viewer') });
    expect(report.body).toMatch(/acknowledged by api-operator: on it/);
    expect(report.body).toMatch(/resolved by api-operator: keys rotated/);
  });

  it('admin creates, reads, replaces and deletes subscriptions; secrets never come back', async () => {
    const created = await app.inject({ method: 'POST', url: '/subscriptions', payload: webhook, headers: auth('admin') });
    expect(created.statusCode).toBe(201);
    const sub = created.json();
    expect(sub).toMatchObject({ name: 'city duty desk', clearance: 'important', events: ['opened', 'escalated', 'reopened', 'resolved', 'overdue'], channel: { type: 'webhook', secret: '***' } });
    expect((await app.inject({ url: `/subscriptions/${sub.id}`, headers: auth('viewer') })).json().channel.secret).toBe('***');
    const replaced = await app.inject({ method: 'PUT', url: `/subscriptions/${sub.id}`, payload: { name: 'mqtt feed', channel: { type: 'mqtt' } }, headers: auth('admin') });
    expect(replaced.json()).toMatchObject({ id: sub.id, name: 'mqtt feed', clearance: 'general', channel: { type: 'mqtt' } });
    expect((await app.inject({ url: '/subscriptions', headers: auth('viewer') })).json()).toHaveLength(1);
    expect((await app.inject({ method: 'DELETE', url: `/subscriptions/${sub.id}`, headers: auth('admin') })).statusCode).toBe(204);
    expect((await app.inject({ method: 'DELETE', url: `/subscriptions/${sub.id}`, headers: auth('admin') })).statusCode).toBe(404);
  });

  // Issue 14, "an API described": OpenAPI generated from the routes' schemas, and a UI.
  it('describes itself: OpenAPI 3 at /openapi.json from the route schemas, Swagger UI at /docs', async () => {
    const res = await app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<{ openapi: string; info: { version: string }; paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>>; components: { securitySchemes: Record<string, { scheme: string }> } }>();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer.scheme).toBe('bearer');
    for (const path of ['/healthz', '/readyz', '/metrics', '/stats', '/catalogue', '/incidents', '/incidents/{id}', '/incidents/{id}/report', '/subscriptions', '/subscriptions/{id}', '/capacity']) expect(Object.keys(doc.paths), path).toContain(path);
    // Taken from the route schemas: the capacity horizon, the incident filters, a subscription's body.
    expect(doc.paths['/capacity'].get.parameters?.map((p) => p.name)).toContain('horizon');
    expect(doc.paths['/incidents'].get.parameters?.map((p) => p.name)).toEqual(expect.arrayContaining(['state', 'maxLevel']));
    expect(doc.paths['/subscriptions'].post.requestBody).toBeDefined();
    expect(Object.keys(doc.paths)).not.toContain('/openapi.json');
    const ui = await app.inject({ url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    expect(ui.body).toMatch(/swagger-ui/i);
    expect(String(ui.headers['content-security-policy'])).toMatch(/default-src 'self'/);
  });
});
