import { createServer, connect, type Server, type Socket } from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../core/types.js';
import { MqttSource } from '../../ingest/mqtt/source.js';
import { waitUntil } from '../../services/process.js';
import { uniqueName, useServices } from '../helpers/services.js';

/**
 * A TCP proxy between the source and the real mosquitto that parses what the client sends,
 * so the test sees exactly when each PUBACK leaves the pipeline.
 */
async function pubackSpy(brokerUrl: string): Promise<{ url: string; pubacks: number[]; close(): Promise<void> }> {
  const { hostname, port } = new URL(brokerUrl);
  const pubacks: number[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    // The parser takes the protocol version from the client's CONNECT.
    const parser = mqttPacket.parser();
    parser.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'puback') pubacks.push(p.messageId!);
    });
    client.on('data', (d: Buffer) => parser.parse(d));
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    pubacks,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// mqtt.js internals (ingest/mqtt/mqtt-internals.ts) hold the PUBACK back until the envelope is
// acked. An mqtt.js upgrade that breaks them must fail here, not in production.
describe('the MQTT source withholds each PUBACK until the envelope is acked (real mosquitto)', () => {
  const svc = useServices();
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => {});
  });

  for (const protocolVersion of [4, 5] as const) {
    it(`MQTT ${protocolVersion === 4 ? '3.1.1' : '5'}: no PUBACK before ack(); one after; nack() makes the broker redeliver`, async () => {
      const spy = await pubackSpy(svc.mqttUrl);
      cleanup.push(() => spy.close());
      const received: Envelope[] = [];
      const source = new MqttSource({ url: spy.url, clientId: uniqueName('puback'), topic: 'jl/#', shareGroup: null, protocolVersion, receiveMaximum: 100, reconnectMinMs: 100, reconnectMaxMs: 500 }, pino({ level: 'silent' }));
      cleanup.push(() => source.stop());
      source.start((env) => received.push(env));
      await waitUntil(() => source.subscribed, 10_000, 'subscribed');

      const pub = await mqtt.connectAsync(svc.mqttUrl, { clientId: uniqueName('pub') });
      cleanup.push(() => pub.endAsync());
      for (const n of [1, 2, 3]) await pub.publishAsync(`jl/agri/220100/s${n}/soil`, `{"n":${n}}`, { qos: 1 });
      await waitUntil(() => received.length === 3, 10_000, 'three messages handed over');
      await new Promise((r) => setTimeout(r, 300)); // a premature PUBACK would have left by now
      expect(spy.pubacks).toEqual([]);

      // Acks in any order; PUBACKs leave in arrival order, once the earlier ones are done.
      received[1].ack();
      await new Promise((r) => setTimeout(r, 100));
      expect(spy.pubacks).toEqual([]);
      received[0].ack();
      await waitUntil(() => spy.pubacks.length === 2, 5000, 'two PUBACKs');

      // The third is nacked: the broker must deliver it again (the source reconnects), as a duplicate.
      received[2].nack(new Error('could not be made durable'));
      await waitUntil(() => received.length === 4, 10_000, 'redelivered after the nack');
      expect(received[3].msg).toMatchObject({ topic: 'jl/agri/220100/s3/soil', dup: true });
      received[3].ack();
      await waitUntil(() => spy.pubacks.length === 3, 5000, 'the redelivered message acknowledged');
      await new Promise((r) => setTimeout(r, 200));
      expect(spy.pubacks).toHaveLength(3);
      expect(received).toHaveLength(4); // acknowledged messages are not redelivered
    });
  }
});
