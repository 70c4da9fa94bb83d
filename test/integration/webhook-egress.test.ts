import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { MessageFactory } from '../../ingest/simulator/simulator.js';
import { influxQuery } from '../helpers/influx.js';
import { getJson, publishAll, sendJson, testConfig, TOKENS, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { tempDir, uniqueName, useServices } from '../helpers/services.js';

/** What the test-owned receiver saw: requests per path, and the bytes of its endless answer that left. */
interface Receiver {
  port: number;
  hits: Record<string, IncomingMessage[]>;
  hugeBytesSent: number;
}

/**
 * A webhook receiver on 127.0.0.1: `/redirect` answers 307 to `/target`, `/huge` an endless 200
 * body (256 MiB at most), `/flaky` 503 on its first request, anything else 204.
 */
async function receiver(): Promise<Receiver> {
  const r: Receiver = { port: 0, hits: {}, hugeBytesSent: 0 };
  const server: Server = createServer((req, res) => {
    req.resume();
    const path = new URL(req.url!, 'http://x').pathname;
    (r.hits[path] ??= []).push(req);
    if (path === '/redirect') return void res.writeHead(307, { location: '/target' }).end();
    if (path === '/flaky' && r.hits[path].length === 1) return void res.writeHead(503).end();
    if (path !== '/huge') return void res.writeHead(204).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = () => {
      while (!res.destroyed && r.hugeBytesSent < 256 << 20) {
        r.hugeBytesSent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  onTestFinished(() => new Promise<void>((ok) => (server.closeAllConnections(), server.close(() => ok()))));
  r.port = (server.address() as AddressInfo).port;
  return r;
}

// Security review, issue 10, rows 2, 14 and 16 (part), against the real mosquitto and influxd:
// webhooks only where the egress policy allows (checked at create and at delivery), no redirect
// followed, answers read only up to the cap, URL credentials never shown or logged, and MQTT
// alerts on a topic that carries the data grade.
describe('webhook egress through real services', () => {
  const svc = useServices();

  /** A pipeline with `allow` as alerts.egress.allow, subscriptions.json pre-written, logs captured at debug. */
  async function start(allow: string[], legacySubscriptions: object[] = []) {
    const dataDir = tempDir();
    const { file, fleet } = writeFleet(dataDir, 27);
    const config = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir, devices: file });
    config.alerts.egress.allow = allow;
    config.alerts.retryMinMs = 100;
    config.alerts.retryMaxMs = 300;
    config.alerts.timeoutMs = 3000;
    if (legacySubscriptions.length) writeFileSync(join(dataDir, 'subscriptions.json'), JSON.stringify(legacySubscriptions));
    let logs = '';
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => ((logs += chunk.toString()), done()) });
    const pipeline = await Pipeline.start(config, { logger: pino({ level: 'debug' }, sink) });
    onTestFinished(() => pipeline.stop());
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
    const factory = new MessageFactory(fleet, 5);
    const meter = fleet.find((d) => d.kind === 'meter')!;
    /** A forged meter message: an incident about important data (level III). */
    const forge = async () => {
      const m = factory.make(meter, 'meter', Date.now());
      await publishAll(svc.mqttUrl, [{ topic: m.topic, payload: JSON.stringify({ ...m.payload, sig: 'ab'.repeat(32) }) }]);
      await waitUntil(() => pipeline.incidents.counts().open > 0, 10_000, 'incident opened');
    };
    const subscribe = (body: object) => sendJson<{ error?: string; field?: string; message?: string; id?: string }>(pipeline.httpPort!, 'POST', '/subscriptions', body, TOKENS.admin);
    const outboxFile = () => (existsSync(join(dataDir, 'alerts', 'outbox.jsonl')) ? readFileSync(join(dataDir, 'alerts', 'outbox.jsonl'), 'utf8') : '');
    return { pipeline, forge, subscribe, outboxFile, logs: () => logs, meter };
  }
  const webhook = (url: string, clearance = 'core') => ({ name: 'duty desk', clearance, channel: { type: 'webhook', url, secret: 'a-long-enough-secret' } });

  it('refuses a webhook on 127.0.0.1 at create time unless listed, and the pipeline\'s own InfluxDB even then', async () => {
    const hook = await receiver();
    const closed = await start([]);
    const r = await closed.subscribe(webhook(`http://127.0.0.1:${hook.port}/hook`));
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'bad_request', field: 'body/channel/url', message: `body/channel/url http://127.0.0.1:${hook.port}/hook refused by egress policy: loopback address 127.0.0.1 (alerts.egress.allow does not list it)` });
    for (const host of ['2130706433', '0x7f.0.0.1', '0177.0.0.1', '[::ffff:127.0.0.1]']) expect((await closed.subscribe(webhook(`http://${host}:${hook.port}/hook`))).status, host).toBe(400);
    const open = await start(['127.0.0.1']);
    expect((await open.subscribe(webhook(`http://127.0.0.1:${hook.port}/hook`))).status).toBe(201);
    const influx = new URL(svc.influxUrl);
    const drop = await open.subscribe(webhook(`http://127.0.0.1:${influx.port}/query?q=DROP%20DATABASE%20x`));
    expect(drop.status).toBe(400);
    expect(drop.body.message).toMatch(/refused by egress policy: the pipeline's own InfluxDB 127.0.0.1:\d+ \(alerts.egress.allow does not list it with its port\)/);
    const put = await sendJson<{ message: string }>(open.pipeline.httpPort!, 'PUT', `/subscriptions/${(await getJson<{ id: string }[]>(open.pipeline.httpPort!, '/subscriptions')).body[0].id}`, webhook('http://169.254.169.254/latest/meta-data/'), TOKENS.admin);
    expect(put.status).toBe(400);
    expect(put.body.message).toMatch(/link-local address 169.254.169.254/);
  });

  it('checks again at delivery: a stored subscription to loopback or to InfluxDB is dropped and logged, never sent', async () => {
    const hook = await receiver();
    const victim = uniqueName('victim');
    const influx = new URL(svc.influxUrl);
    expect((await fetch(`${svc.influxUrl}/query?q=${encodeURIComponent(`CREATE DATABASE "${victim}"`)}`, { method: 'POST' })).status).toBe(200);
    // Saved before the policy existed (subscriptions.json as an older version wrote it).
    const legacy = (id: string, url: string) => ({ id, createdAt: Date.now(), name: id, filters: { minLevel: 4 }, clearance: 'core', events: ['opened'], channel: { type: 'webhook', url, secret: 'a-long-enough-secret' } });
    const { pipeline, forge, outboxFile, logs } = await start([], [legacy('sub-loop', `http://127.0.0.1:${hook.port}/legacy`), legacy('sub-drop', `http://127.0.0.1:${influx.port}/query?q=${encodeURIComponent(`DROP DATABASE "${victim}"`)}`)]);
    await forge();
    await waitUntil(() => pipeline.dispatcher.outbox.size === 0, 10_000, 'both alerts settled');
    const dbs = (await influxQuery(svc.influxUrl, victim, 'SHOW DATABASES'))[0].values.flat();
    expect.soft(dbs).toContain(victim);
    expect.soft(hook.hits['/legacy']).toBeUndefined();
    expect.soft(pipeline.dispatcher.outbox.dropped).toBe(2);
    expect.soft(outboxFile()).toMatch(/"op":"drop","id":"[^"]+:sub-loop","reason":"refused by egress policy: loopback address 127.0.0.1/);
    expect.soft(logs()).toMatch(/"subscription":"sub-drop".*refused by egress policy: the pipeline's own InfluxDB .*"msg":"alert refused by egress policy: dropped"/);
    expect.soft(logs()).toMatch(/"subscription":"sub-loop".*"msg":"subscription refused by egress policy: its alerts will be dropped"/);
  });

  it('follows no redirect and reads at most maxResponseBytes of an answer', async () => {
    const hook = await receiver();
    const { pipeline, forge, subscribe, logs } = await start(['127.0.0.1']);
    expect((await subscribe(webhook(`http://127.0.0.1:${hook.port}/redirect`))).status).toBe(201);
    const huge = await subscribe(webhook(`http://127.0.0.1:${hook.port}/huge`));
    expect(huge.status).toBe(201);
    await forge();
    const redirected = () => !!hook.hits['/target'] || (hook.hits['/redirect']?.length ?? 0) >= 2;
    const hugeSettled = () => !pipeline.dispatcher.outbox.entries().some((e) => e.subscription === huge.body.id);
    await waitUntil(() => hugeSettled() && redirected(), 15_000, 'huge answer delivered, redirect tried twice or followed');
    expect.soft(hook.hits['/target']).toBeUndefined();
    const waiting = pipeline.dispatcher.outbox.entries();
    expect.soft(waiting).toHaveLength(1);
    expect.soft(waiting[0]?.lastError).toBe('webhook answered 307 (redirects are not followed)');
    // Bytes read by the pipeline (its debug log), and bytes the receiver got out before the cut.
    const read = Math.max(0, ...[...logs().matchAll(/"responseBytes":(\d+)/g)].map((m) => Number(m[1])));
    expect.soft(read).toBeGreaterThanOrEqual(64 * 1024);
    expect.soft(read).toBeLessThanOrEqual(128 * 1024);
    expect.soft(hook.hugeBytesSent).toBeLessThan(64 << 20);
  });

  it('never shows or logs webhook URL credentials, nor writes them to the outbox', async () => {
    const hook = await receiver();
    const { pipeline, forge, subscribe, outboxFile, logs } = await start(['127.0.0.1']);
    const url = `http://alerts:pa55w0rd-user@127.0.0.1:${hook.port}/flaky?token=s3cr3t-query&x=1`;
    const created = await subscribe(webhook(url));
    expect(created.status).toBe(201);
    await forge();
    await waitUntil(() => pipeline.dispatcher.outbox.delivered === 1 || (pipeline.dispatcher.outbox.entries()[0]?.attempts ?? 0) >= 2, 15_000, 'delivered after one failure, or failed twice');
    expect.soft(hook.hits['/flaky']).toHaveLength(2);
    expect.soft(hook.hits['/flaky']?.[1]?.headers.authorization).toBe(`Basic ${Buffer.from('alerts:pa55w0rd-user').toString('base64')}`);
    const shown = JSON.stringify([created.body, (await getJson(pipeline.httpPort!, '/subscriptions')).body, (await getJson(pipeline.httpPort!, `/subscriptions/${created.body.id}`)).body]);
    expect.soft(shown).toContain(`http://***@127.0.0.1:${hook.port}/flaky?token=***&x=***`);
    for (const [where, text] of [['API', shown], ['outbox', outboxFile()], ['log', logs()]]) {
      expect.soft(text, where).not.toContain('pa55w0rd');
      expect.soft(text, where).not.toContain('s3cr3t');
    }
    expect(outboxFile()).toContain('"op":"retry"'); // the failed attempt was journaled
  });

  it('publishes an alert about important data on the grade-scoped MQTT topic', async () => {
    const client = await mqtt.connectAsync(svc.mqttUrl, { clientId: uniqueName('acl'), clean: true });
    onTestFinished(() => client.endAsync(true));
    const topics: string[] = [];
    client.on('message', (t) => topics.push(t));
    await client.subscribeAsync('jl/alerts/#', { qos: 1 });
    const { subscribe, forge, meter } = await start([]);
    expect((await subscribe({ name: 'mqtt important', clearance: 'important', channel: { type: 'mqtt' } })).status).toBe(201);
    await forge();
    await waitUntil(() => topics.length > 0, 10_000, 'alert published');
    expect(topics[0]).toBe(`jl/alerts/important/III/energy/${meter.region}`);
  });
});
