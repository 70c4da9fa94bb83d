import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { AlertDispatcher, CHECKPOINT_TOPIC } from '../../alerts/dispatcher.js';
import { EgressPolicy } from '../../alerts/egress.js';
import { Outbox } from '../../alerts/outbox.js';
import { SubscriptionStore } from '../../alerts/subscriptions.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { waitUntil } from '../../services/process.js';
import { tempDir } from '../helpers/services.js';

// Done-when 3 of the hardening issue: the head of the incident log is anchored outside the host,
// also with every alert subscriber, as a signed checkpoint (webhook: HMAC-signed body; MQTT:
// its own topic, which names no data grade).
describe('incident-log checkpoints reach every subscriber', () => {
  it('by webhook (signed) and by MQTT', async () => {
    const bodies: { body: string; signature: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push({ body, signature: String(req.headers['x-jl-signature']) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;

    const config = loadPipelineConfig(defaultConfigFile(), {});
    const dir = tempDir();
    const egress = new EgressPolicy({ ...config.alerts.egress, allow: ['127.0.0.1'] }, []);
    const subs = new SubscriptionStore(join(dir, 'subscriptions.json'), egress);
    const secret = 'a-webhook-secret-of-16+';
    await subs.create({ name: 'hook', filters: { minLevel: 4 }, clearance: 'general', events: ['opened'], channel: { type: 'webhook', url: `http://127.0.0.1:${port}/hook`, secret } });
    await subs.create({ name: 'mqtt', filters: { minLevel: 4 }, clearance: 'general', events: ['opened'], channel: { type: 'mqtt' } });
    const published: { topic: string; body: string }[] = [];
    const outbox = new Outbox(join(dir, 'outbox.jsonl'));
    const dispatcher = new AlertDispatcher(subs, outbox, { ...config.alerts, retryMinMs: 10 }, pino({ level: 'silent' }), egress, async (topic, body) => void published.push({ topic, body }));
    onTestFinished(() => {
      dispatcher.stop();
      outbox.close();
    });
    dispatcher.start(20);

    const checkpoint = { n: 42, hash: 'ab'.repeat(32), at: Date.now(), mac: 'cd'.repeat(32) };
    dispatcher.onCheckpoint(checkpoint);
    await waitUntil(() => bodies.length === 1 && published.length === 1, 10_000, 'checkpoint delivered on both channels');
    expect(JSON.parse(bodies[0].body)).toMatchObject({ event: 'checkpoint', checkpoint });
    expect(bodies[0].signature).toBe(`sha256=${createHmac('sha256', secret).update(bodies[0].body).digest('hex')}`);
    expect(published[0].topic).toBe(CHECKPOINT_TOPIC);
    expect(JSON.parse(published[0].body)).toMatchObject({ event: 'checkpoint', checkpoint });
  });
});
