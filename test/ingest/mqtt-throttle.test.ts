import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../core/types.js';
import { MqttSource } from '../../ingest/mqtt/source.js';
import { waitUntil } from '../../services/process.js';
import { uniqueName, useServices } from '../helpers/services.js';

// mosquitto with `max_queued_messages 0` (needed so nothing is dropped) sends a subscriber far more
// than its MQTT 5 receive window: a backlog of 250,000 messages once sat in the pipeline's memory
// (1.2 GB RSS). The runtime therefore bounds what it holds and asks the source to stop reading.
// mqtt.js pipes the socket into its parser, and the pipe resumes the socket whenever the parser
// drains, so a plain pause() of the socket did not hold: this fails if reading is not really held.
describe('the MQTT source stops reading while throttled (real mosquitto)', () => {
  const svc = useServices();
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => {});
  });

  it('holds the messages it has not acknowledged near the bound while acks flow, and gets every message', async () => {
    const TOTAL = 20_000;
    const BOUND = 500;
    const source = new MqttSource({ url: svc.mqttUrl, clientId: uniqueName('throttle'), topic: 'jl/#', shareGroup: null, protocolVersion: 5, receiveMaximum: 65_535, reconnectMinMs: 100, reconnectMaxMs: 500 }, pino({ level: 'silent' }));
    cleanup.push(() => source.stop());
    const queue: Envelope[] = [];
    let received = 0;
    let acked = 0;
    let held = false;
    let most = 0;
    source.start((env) => {
      received++;
      queue.push(env);
      most = Math.max(most, received - acked);
      if (!held && received - acked >= BOUND) source.throttle((held = true));
    });
    await waitUntil(() => source.subscribed, 10_000, 'subscribed');
    // Settles 100 messages a turn (as batches become durable), releasing the hold at half the bound.
    const settle = setInterval(() => {
      for (const env of queue.splice(0, 100)) {
        env.ack();
        acked++;
      }
      if (held && received - acked <= BOUND / 2) source.throttle((held = false));
    }, 2);
    cleanup.push(async () => clearInterval(settle));
    const pub = await mqtt.connectAsync(svc.mqttUrl, { clientId: uniqueName('throttle-pub') });
    cleanup.push(() => pub.endAsync());
    await Promise.all(Array.from({ length: TOTAL }, (_, i) => pub.publishAsync('jl/agri/220100/soil-1/soil', JSON.stringify({ i }), { qos: 1 })));
    await waitUntil(() => acked === TOTAL, 60_000, 'every message received and acknowledged', 20);
    expect(received).toBe(TOTAL);
    // What was read before a hold took effect comes on top of the bound (a socket chunk or two).
    expect(most).toBeLessThan(BOUND * 10);
  });
});
