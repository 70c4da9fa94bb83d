import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import type { SimDevice } from '../../ingest/simulator/fleet.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { catalogueCadence } from '../../ingest/simulator/scenarios.js';
import { MessageFactory, Simulator } from '../../ingest/simulator/simulator.js';
import { launchChromium, screenshot, seriousViolations } from '../helpers/browser.js';
import { getJson, publishAll, sendJson, testConfig, testLogger, TOKENS, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { tempDir, useServices } from '../helpers/services.js';

type Role = keyof typeof TOKENS;
const PAGES = ['overview', 'incidents', 'subscriptions', 'deadletters', 'devices', 'capacity'] as const;

/** A webhook receiver on 127.0.0.1 keeping every body it was sent. */
async function receiver(): Promise<{ server: Server; port: number; bodies: { path: string; body: Record<string, unknown>; headers: Record<string, unknown> }[] }> {
  const bodies: { path: string; body: Record<string, unknown>; headers: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      bodies.push({ path: req.url ?? '', body: JSON.parse(text) as Record<string, unknown>, headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  return { server, port: (server.address() as AddressInfo).port, bodies };
}

// Issue 14, done-when 1 and 2: the operator console in Debian's chromium (headless, driven by
// playwright-core) against the real pipeline, mosquitto and InfluxDB, with the simulator
// publishing. Screenshots of every page go to test-results/console (not committed).
describe('operator console in a real browser', () => {
  const svc = useServices();
  let pipeline: Pipeline;
  let browser: Browser;
  let sim: Simulator;
  let simulating: Promise<void>;
  let fleet: SimDevice[];
  let hook: Awaited<ReturnType<typeof receiver>>;
  let base: string;

  beforeAll(async () => {
    const dataDir = tempDir();
    const written = writeFleet(dataDir, 27);
    fleet = written.fleet;
    const config = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir, devices: written.file });
    config.alerts.egress.allow = ['127.0.0.1'];
    config.alerts.retryMinMs = 100;
    config.alerts.retryMaxMs = 500;
    pipeline = await Pipeline.start(config, { logger: testLogger() });
    await waitUntil(() => pipeline.ready().ok, 15_000, 'pipeline ready');
    base = `http://127.0.0.1:${pipeline.httpPort}`;
    // At the catalogue's update cycles (a realistic fleet): a fixed rate would flood every device.
    sim = new Simulator({ url: svc.mqttUrl, fleet, cadence: catalogueCadence(loadCatalogue(config.catalogue)), seed: 3 });
    simulating = sim.run();
    hook = await receiver();
    browser = await launchChromium();
  }, 600_000); // a first run may install chromium and fonts-noto-cjk from Debian

  afterAll(async () => {
    await browser?.close();
    sim?.stop();
    await simulating?.catch(() => {});
    hook?.server.close();
    await pipeline?.stop();
  });

  /** A fresh browser context signed in with `role`'s token, on `page`. */
  async function signIn(role: Role, page = 'overview'): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const p = await ctx.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    // A CSP violation or a failed load is a console error: none is expected on any page.
    p.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(`${role}: ${m.text()}`)));
    await p.goto(`${base}/#/${page}`);
    await p.fill('#token', TOKENS[role]);
    await p.click('button[type=submit]');
    await p.getByTestId('who').waitFor();
    expect(errors).toEqual([]);
    return p;
  }

  const consoleErrors: string[] = [];
  const number = async (p: Page, testid: string) => Number((await p.getByTestId(testid).textContent())!.replace(/[^\d.]/g, ''));

  /** A keyed roadside unit's status with a forged signature: a network-attack incident about general data. */
  async function forge(): Promise<void> {
    const rsu = fleet.find((d) => d.kind === 'rsu')!;
    const m = new MessageFactory(fleet, 99).make(rsu, 'rsu_status', Date.now());
    await publishAll(svc.mqttUrl, [{ topic: m.topic, payload: JSON.stringify({ ...m.payload, sig: 'ab'.repeat(32) }) }]);
  }

  it('signs in with a token; the role decides what is shown; a bad token is refused', async () => {
    const bad = await (await browser.newContext()).newPage();
    await bad.goto(base);
    await bad.fill('#token', 'not-a-token');
    await bad.click('button[type=submit]');
    await expect.poll(() => bad.getByRole('alert').textContent()).toContain('令牌无效');
    await screenshot(bad, 'sign-in');
    for (const [role, label, admin] of [['viewer', '查看者', false], ['operator', '值班员', false], ['admin', '管理员', true]] as const) {
      const p = await signIn(role);
      expect(await p.getByTestId('who').textContent()).toContain(label);
      expect(await p.getByRole('link', { name: '告警订阅' }).count(), role).toBe(admin ? 1 : 0);
      await p.context().close();
    }
  });

  it("the overview's numbers move while data flows", async () => {
    const p = await signIn('viewer');
    await p.getByTestId('received').waitFor();
    await expect.poll(() => number(p, 'received'), { timeout: 10_000 }).toBeGreaterThan(0);
    const first = await number(p, 'received');
    await expect.poll(() => number(p, 'received'), { timeout: 10_000 }).toBeGreaterThan(first);
    await expect.poll(() => number(p, 'rate'), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await number(p, 'stored')).toBeGreaterThan(0);
    // The devices matrix names Jilin's divisions.
    expect(await p.locator('table.matrix thead').textContent()).toContain('长春市');
    expect(await p.locator('table.matrix thead').textContent()).toContain('延边朝鲜族自治州');
    await p.context().close();
  });

  it('an injected attack shows within seconds; a viewer cannot act (no button, 403); an operator acknowledges and resolves and the API agrees', async () => {
    const viewer = await signIn('viewer', 'incidents');
    const operator = await signIn('operator', 'incidents');
    const t0 = Date.now();
    await forge();
    const row = viewer.locator('[data-incident]').filter({ hasText: 'forgery' }).first();
    await row.waitFor({ timeout: 10_000 });
    const shownAfterMs = Date.now() - t0;
    expect(shownAfterMs).toBeLessThan(10_000);
    console.info(`console test: the forged message's incident showed in the browser after ${shownAfterMs} ms`);
    const id = (await row.getAttribute('data-incident'))!;
    expect(await row.textContent()).toContain('网络攻击事件');
    // Normal traffic raised nothing else.
    expect(await viewer.locator('[data-incident]').count()).toBe(1);

    await row.getByRole('button').click();
    await viewer.getByTestId('incident-detail').waitFor();
    expect(await viewer.getByRole('button', { name: '确认', exact: true }).count()).toBe(0);
    expect(await viewer.getByRole('button', { name: '解决', exact: true }).count()).toBe(0);
    expect((await sendJson(pipeline.httpPort!, 'POST', `/incidents/${id}/ack`, {}, TOKENS.viewer)).status).toBe(403);

    await operator.locator(`[data-incident="${id}"]`).getByRole('button').click();
    await operator.getByTestId('incident-detail').waitFor();
    await operator.fill('#note', '值班员已核实');
    await operator.getByRole('button', { name: '确认', exact: true }).click();
    await expect.poll(() => operator.getByTestId('detail-state').textContent()).toBe('已确认');
    const acked = await getJson<{ state: string; acknowledgedBy: string; timeline: { event: string; note?: string }[] }>(pipeline.httpPort!, `/incidents/${id}`, TOKENS.operator);
    expect(acked.body.state).toBe('acknowledged');
    expect(acked.body.acknowledgedBy).toBe('test-operator');
    expect(acked.body.timeline.find((e) => e.event === 'acknowledged')?.note).toBe('值班员已核实');

    await operator.getByRole('button', { name: '解决', exact: true }).click();
    await expect.poll(() => operator.getByTestId('detail-state').textContent()).toBe('已解决');
    expect((await getJson<{ state: string }>(pipeline.httpPort!, `/incidents/${id}`, TOKENS.operator)).body.state).toBe('resolved');
    // The viewer's page follows (live events): the incident leaves the unresolved list it shows
    // by default, and is in the resolved one.
    await expect.poll(() => viewer.locator(`[data-incident="${id}"]`).count(), { timeout: 10_000 }).toBe(0);
    await viewer.selectOption('[data-testid=filter-state]', 'resolved');
    await expect.poll(() => viewer.locator(`[data-incident="${id}"] .state`).textContent(), { timeout: 10_000 }).toBe('已解决');

    await operator.getByRole('button', { name: '事件报告（Markdown）' }).click();
    await expect.poll(() => operator.getByTestId('report').textContent()).toContain(id);
    await operator.getByRole('button', { name: '校验' }).click();
    await expect.poll(() => operator.getByTestId('chain').textContent()).toContain('链完整');
    await screenshot(operator, 'incident-detail');
    await viewer.context().close();
    await operator.context().close();
  });

  it('an admin creates a webhook subscription and its test alert reaches a local receiver', async () => {
    const p = await signIn('admin', 'subscriptions');
    await p.getByRole('button', { name: '新建订阅' }).click();
    await p.fill('#sub-name', '省运营中心值班台');
    await p.fill('#sub-url', `http://127.0.0.1:${hook.port}/duty`);
    await p.fill('#sub-secret', 'a-secret-of-enough-length');
    await p.selectOption('#sub-level', '3');
    await p.getByRole('button', { name: '保存' }).click();
    const row = p.locator('[data-subscription="省运营中心值班台"]');
    await row.waitFor();
    const subs = await getJson<{ id: string; name: string; filters: { minLevel: number }; channel: { url: string; secret: string } }[]>(pipeline.httpPort!, '/subscriptions', TOKENS.admin);
    const sub = subs.body.find((s) => s.name === '省运营中心值班台')!;
    expect(sub.filters.minLevel).toBe(3);
    expect(sub.channel.secret).toBe('***');

    await row.getByRole('button', { name: '发送测试告警' }).click();
    await waitUntil(() => hook.bodies.some((b) => b.path === '/duty' && b.body.event === 'test'), 10_000, 'test alert received');
    const got = hook.bodies.find((b) => b.body.event === 'test')!;
    expect(got.headers['x-jl-signature']).toBeTruthy();
    expect(got.body.by).toBe('test-admin');
    await expect.poll(() => row.getByTestId('delivery').textContent(), { timeout: 10_000 }).toContain('已送达 1');
    await screenshot(p, 'subscriptions');
    await p.context().close();
  });

  it('switches between Chinese and English', async () => {
    const p = await signIn('viewer');
    expect(await p.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    await p.getByRole('button', { name: '切换到英文' }).click();
    await p.getByRole('link', { name: 'Overview' }).waitFor();
    expect(await p.evaluate(() => document.documentElement.lang)).toBe('en');
    expect(await p.locator('table.matrix thead').textContent()).toContain('Changchun');
    await screenshot(p, 'overview-en');
    await p.getByRole('button', { name: 'Switch to Chinese' }).click();
    await p.getByRole('link', { name: '总览' }).waitFor();
    await p.context().close();
  });

  it('every page has no serious or critical accessibility violation (axe-core), and is screenshotted', async () => {
    // Something to show on the dead-letter page: a payload that is not JSON.
    const soil = fleet.find((d) => d.kind === 'soil')!;
    await publishAll(svc.mqttUrl, [{ topic: `jl/agri/${soil.region}/${soil.id}/soil`, payload: 'not json' }]);
    await waitUntil(() => pipeline.ledger.totals().deadLettered > 0, 10_000, 'dead-lettered');
    // And an unresolved incident, so the incident page is checked with rows, badges and a detail.
    await forge();
    await waitUntil(() => pipeline.incidents.list({ state: 'unresolved' }).total > 0, 10_000, 'incident open');
    const p = await signIn('admin');
    const found: Record<string, string[]> = {};
    for (const name of PAGES) {
      await p.goto(`${base}/#/${name}`);
      await p.locator('main h2').waitFor();
      await p.waitForTimeout(1500);
      if (name === 'incidents') {
        await p.locator('[data-incident] button').first().click();
        await p.getByTestId('incident-detail').waitFor();
      }
      await screenshot(p, name);
      found[name] = await seriousViolations(p);
    }
    await p.context().close();
    const signInPage = await (await browser.newContext()).newPage();
    await signInPage.goto(base);
    found['sign-in'] = await seriousViolations(signInPage);
    await signInPage.context().close();
    expect(found).toEqual(Object.fromEntries([...PAGES, 'sign-in'].map((n) => [n, []])));
    // The viewer's 403 above was an API call from the test, not from a page.
    expect(consoleErrors).toEqual([]);
  });
});
