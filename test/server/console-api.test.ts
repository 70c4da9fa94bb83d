import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLog } from '../../alerts/incident-log.js';
import { IncidentManager } from '../../alerts/incidents.js';
import { EgressPolicy } from '../../alerts/egress.js';
import { SubscriptionStore } from '../../alerts/subscriptions.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { loadRegistry } from '../../config/devices.js';
import type { Anomaly } from '../../core/anomaly.js';
import { RecentDeadLetters } from '../../deadletter/recent.js';
import { hashToken, type ApiToken } from '../../server/auth.js';
import { buildHttp } from '../../server/http.js';
import { buildMetrics } from '../../server/metrics.js';
import { DeviceActivity } from '../../server/views/device-activity.js';
import { TOKENS } from '../helpers/pipeline.js';
import { stopEach, tempDir } from '../helpers/services.js';

// Default clearances: a viewer learns of general data only, an operator of all (server/auth.ts).
// And an operator cleared for general data only.
const GENERAL_OPERATOR = 'test-general-operator-token';
const tokens: ApiToken[] = [
  ...(Object.keys(TOKENS) as (keyof typeof TOKENS)[]).map((role) => ({ name: `console-${role}`, role, sha256: hashToken(TOKENS[role]) })),
  { name: 'console-general-operator', role: 'operator', clearance: 'general', sha256: hashToken(GENERAL_OPERATOR) },
];
const auth = (role: keyof typeof TOKENS | 'generalOperator') => ({ authorization: `Bearer ${role === 'generalOperator' ? GENERAL_OPERATOR : TOKENS[role]}` });
const anomaly = (o: Partial<Anomaly> = {}): Anomaly => ({ detector: 'forgery', kind: 'bad_signature', category: 'network-attack', baseLevel: 4, sector: 'energy', region: '220100', device: 'meter-220100-0001', grade: 'important', criticalInfrastructure: false, eventMs: Date.now(), detail: 'signature does not match', ...o });

/** Reads Server-Sent Events from `url` until `n` events arrived; returns them and the response. */
async function readEvents(url: string, token: string, n: number): Promise<{ res: Response; events: { event: string; data: Record<string, unknown> }[]; stop: () => Promise<void> }> {
  const ctl = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: ctl.signal });
  const events: { event: string; data: Record<string, unknown> }[] = [];
  if (!res.ok || !res.body) return { res, events, stop: async () => ctl.abort() };
  const reader = res.body.getReader();
  let buf = '';
  while (events.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += new TextDecoder().decode(value);
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
    }
  }
  return { res, events, stop: async () => ctl.abort() };
}

// Issue 14: the API the console reads, within each caller's role and clearance.
describe('console API', () => {
  let app: FastifyInstance;
  let incidents: IncidentManager;
  let base: string;
  let logFile: string;
  const recent = new RecentDeadLetters();

  beforeAll(async () => {
    const dir = tempDir();
    const config = loadPipelineConfig(defaultConfigFile(), {});
    logFile = join(dir, 'incidents.log');
    incidents = new IncidentManager(logFile, config.incidents);
    incidents.observe(anomaly()); // important data: hidden from a viewer
    incidents.observe(anomaly({ detector: 'flatline', kind: 'stuck', category: 'device-fault', sector: 'agri', grade: 'general', device: 'soil-220100-0001' }));
    const catalogue = loadCatalogue(config.catalogue);
    const registry = loadRegistry(config.devices, catalogue);
    const activity = new DeviceActivity(config.detection.silence);
    const letter = (reason: string, source: string, topic: string) => ({ at: new Date().toISOString(), reason, detail: reason, topic, source, payload: 'oops', payloadEncoding: 'utf8' as const, payloadSize: 4, truncated: false, receivedAt: new Date().toISOString() });
    // General (soil), important (meter), and one that names no catalogue entry.
    recent.add([letter('invalid_json', 'agri/220100/soil', 'jl/agri/220100/soil-220100-0001/soil'), letter('bad_timestamp', 'energy/220100/meter', 'jl/energy/220100/meter-220100-0001/meter'), letter('bad_topic', '_/_/_', 'jl/nowhere')]);
    app = buildHttp({
      ready: () => ({ ok: true, checks: { subscribed: true } }),
      stats: () => ({ totals: { received: 1, stored: 1, deadLettered: 0, inSpool: 0, nacked: 0 }, incidents: incidents.counts() }),
      catalogue: () => catalogue,
      incidents,
      subscriptions: new SubscriptionStore(join(dir, 'subscriptions.json'), new EgressPolicy(config.alerts.egress)),
      tokens: () => tokens,
      devices: () => activity.devices(registry, catalogue),
      deadLetters: () => recent.snapshot(),
      verifyChain: () => verifyLog(logFile),
      delivery: { sendTest: () => 'test:1:sub', status: () => ({ pending: 0, retrying: 0, delivered: 0, checkpoints: 0, dropped: 0, lastDeliveredAt: null, lastError: null }) },
      metrics: buildMetrics({ ledger: () => ({ sources: {}, reasons: {} }), spoolBytes: () => 0, influxUp: () => true, anomalies: () => ({}), late: () => 0, incidents: () => incidents.counts(), outboxPending: () => 0, deliveryFailures: () => 0 }),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(() =>
    stopEach(
      () => app?.close(),
      () => incidents?.close(),
    ),
  );

  it('/session names the caller, its role and clearance', async () => {
    const r = await app.inject({ url: '/session', headers: auth('viewer') });
    expect(r.json()).toEqual({ name: 'console-viewer', role: 'viewer', clearance: 'general', features: { incidents: true, devices: true, deadLetters: true, delivery: true, chain: true, capacity: false } });
    expect((await app.inject({ url: '/session' })).statusCode).toBe(401);
  });

  it('/events streams the recent totals, then the overview at once and every second, within the caller\'s clearance', async () => {
    const viewer = await readEvents(`${base}/events`, TOKENS.viewer, 3);
    await viewer.stop();
    expect(viewer.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(viewer.events.map((e) => e.event)).toEqual(['history', 'overview', 'overview']);
    expect(Array.isArray(viewer.events[0].data)).toBe(true);
    const o = viewer.events[1].data as { incidents: { openByLevel: Record<string, number> }; stats: { incidents: { open: number } }; ready: { ok: boolean }; devices: { total: number } };
    // The viewer learns of the general incident only; the operator of both.
    expect(Object.values(o.incidents.openByLevel).reduce((a, b) => a + b, 0)).toBe(1);
    expect(o.stats.incidents.open).toBe(1);
    expect(o.ready.ok).toBe(true);
    const operator = await readEvents(`${base}/events`, TOKENS.operator, 2);
    await operator.stop();
    const p = operator.events[1].data as { incidents: { openByLevel: Record<string, number> }; devices: { total: number } };
    expect(Object.values(p.incidents.openByLevel).reduce((a, b) => a + b, 0)).toBe(2);
    // Devices that send important data are hidden from the general-cleared viewer.
    expect(p.devices.total).toBeGreaterThan(o.devices.total);
    expect((await fetch(`${base}/events`)).status).toBe(401);
  });

  it('one token cannot take every event stream: past 8 it gets 429, another token still gets its own', async () => {
    const open = await Promise.all(Array.from({ length: 8 }, () => readEvents(`${base}/events`, TOKENS.viewer, 1)));
    try {
      expect(open.map((s) => s.res.status)).toEqual(Array(8).fill(200));
      const ninth = await fetch(`${base}/events`, { headers: auth('viewer') });
      expect(ninth.status).toBe(429);
      expect(((await ninth.json()) as { message: string }).message).toBe('token console-viewer has 8 event streams open');
      const admin = await readEvents(`${base}/events`, TOKENS.admin, 1);
      await admin.stop();
      expect(admin.events[0].event).toBe('history');
    } finally {
      for (const s of open) await s.stop();
    }
  });

  it('/overview gives the same overview once (for a console without the stream)', async () => {
    const v = (await app.inject({ url: '/overview', headers: auth('viewer') })).json<{ incidents: { openByLevel: Record<string, number> } }>();
    const o = (await app.inject({ url: '/overview', headers: auth('operator') })).json<{ incidents: { openByLevel: Record<string, number> } }>();
    const sum = (x: Record<string, number>) => Object.values(x).reduce((a, b) => a + b, 0);
    expect(sum(o.incidents.openByLevel)).toBeGreaterThan(sum(v.incidents.openByLevel));
    expect((await app.inject({ url: '/overview' })).statusCode).toBe(401);
  });

  it('/devices lists the registry within clearance, never-heard devices not yet silent', async () => {
    const v = (await app.inject({ url: '/devices', headers: auth('viewer') })).json<{ items: { grade: string; silent: boolean; lastSeen: number | null }[] }>();
    const o = (await app.inject({ url: '/devices', headers: auth('operator') })).json<{ items: { grade: string }[] }>();
    expect(v.items.length).toBeGreaterThan(0);
    expect(v.items.every((d) => d.grade === 'general')).toBe(true);
    expect(o.items.some((d) => d.grade === 'important')).toBe(true);
    // Just started: nothing heard yet, and nothing has been quiet long enough to be silent.
    expect(v.items.every((d) => d.lastSeen === null && !d.silent)).toBe(true);
  });

  it('/deadletters gives every role the counts, records to operators and admins within their clearance', async () => {
    const v = (await app.inject({ url: '/deadletters', headers: auth('viewer') })).json<{ totals: Record<string, number>; latest: unknown[]; recordsShown: boolean }>();
    expect(v.totals).toEqual({ invalid_json: 1, bad_timestamp: 1, bad_topic: 1 });
    expect(v.latest).toEqual([]);
    expect(v.recordsShown).toBe(false);
    const o = (await app.inject({ url: '/deadletters', headers: auth('operator') })).json<{ latest: { reason: string }[] }>();
    expect(o.latest.map((l) => l.reason)).toEqual(['bad_topic', 'bad_timestamp', 'invalid_json']);
    // Cleared for general data: the meter's letter (important) and the ungraded one are not shown.
    const g = (await app.inject({ url: '/deadletters', headers: auth('generalOperator') })).json<{ latest: { reason: string }[] }>();
    expect(g.latest.map((l) => l.reason)).toEqual(['invalid_json']);
  });

  it('delivery status and test alerts are for admins (when alerts reach a subscriber says when its incidents happen)', async () => {
    const created = await app.inject({ method: 'POST', url: '/subscriptions', headers: auth('admin'), payload: { name: 'mqtt desk', clearance: 'core', channel: { type: 'mqtt' } } });
    const id = created.json<{ id: string }>().id;
    expect((await app.inject({ url: `/subscriptions/${id}/delivery`, headers: auth('viewer') })).statusCode).toBe(403);
    expect((await app.inject({ url: `/subscriptions/${id}/delivery`, headers: auth('operator') })).statusCode).toBe(403);
    expect((await app.inject({ url: `/subscriptions/${id}/delivery`, headers: auth('admin') })).json()).toMatchObject({ delivered: 0, checkpoints: 0 });
    expect((await app.inject({ method: 'POST', url: `/subscriptions/${id}/test`, headers: auth('operator') })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: `/subscriptions/${id}/test`, headers: auth('admin') })).statusCode).toBe(202);
    expect((await app.inject({ method: 'POST', url: '/subscriptions/sub-none/test', headers: auth('admin') })).statusCode).toBe(404);
  });

  it('lists unresolved incidents, most severe first, a city matching its counties', async () => {
    incidents.observe(anomaly({ detector: 'flood', kind: 'device', category: 'network-attack', sector: 'agri', grade: 'general', region: '220182', device: 'soil-220182-0001' }));
    const list = (await app.inject({ url: '/incidents?state=unresolved&sort=level&region=220100', headers: auth('operator') })).json<{ items: { level: number; region: string; state: string }[] }>();
    expect(list.items.map((i) => i.region).sort()).toEqual(['220100', '220100', '220182']);
    expect(list.items.every((i) => i.state !== 'resolved')).toBe(true);
    expect(list.items.map((i) => i.level)).toEqual([...list.items.map((i) => i.level)].sort());
  });

  it('an operator marks an incident reported (once), the log keeps it and its chain still verifies', async () => {
    const id = incidents.list({ category: 'device-fault' }).items[0].id;
    expect((await app.inject({ method: 'POST', url: `/incidents/${id}/reported`, headers: auth('viewer'), payload: {} })).statusCode).toBe(403);
    const r = await app.inject({ method: 'POST', url: `/incidents/${id}/reported`, headers: auth('operator'), payload: { note: '已报省网信办' } });
    expect(r.statusCode).toBe(200);
    expect(r.json<{ reportedBy: string; state: string }>()).toMatchObject({ reportedBy: 'console-operator', state: 'open' });
    expect((await app.inject({ method: 'POST', url: `/incidents/${id}/reported`, headers: auth('operator'), payload: {} })).statusCode).toBe(409);
    expect((await app.inject({ url: '/incidents/chain', headers: auth('viewer') })).statusCode).toBe(403);
    const chain = (await app.inject({ url: '/incidents/chain', headers: auth('operator') })).json<{ ok: boolean; records: number }>();
    expect(chain).toMatchObject({ ok: true });
    expect(chain.records).toBeGreaterThanOrEqual(3);
    // The log's size counts incidents of every grade: not for a general-cleared operator.
    const general = (await app.inject({ url: '/incidents/chain', headers: auth('generalOperator') })).json<Record<string, unknown>>();
    expect(general.ok).toBe(true);
    expect(general.records).toBeUndefined();
    // A restart restores the reported mark from the log.
    const config = loadPipelineConfig(defaultConfigFile(), {});
    const restored = new IncidentManager(logFile, config.incidents);
    try {
      expect(restored.get(id).reportedBy).toBe('console-operator');
      expect(restored.get(id).timeline.some((e) => e.event === 'reported' && e.note === '已报省网信办')).toBe(true);
    } finally {
      restored.close();
    }
  });

  it('/ serves the console under its own CSP; the API keeps default-src none', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app">');
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(page.headers.get('content-security-policy')).toMatch(/connect-src 'self'/);
    const js = await fetch(`${base}/main.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const api = await fetch(`${base}/healthz`);
    expect(api.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
  });

  it('closing the server ends open event streams instead of waiting for them', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${base}/events`, { headers: auth('viewer'), signal: ctl.signal });
    expect(res.status).toBe(200);
    // Without ending the streams, close() waits for the browser to go away: here, forever.
    const closed = await Promise.race([app.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 20_000).unref())]);
    expect(closed).toBe('closed');
    ctl.abort();
  });
});
