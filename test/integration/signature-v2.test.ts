import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { sign, signV2 } from '../../core/signature.js';
import { rows } from '../helpers/influx.js';
import { deadLetters, testConfig, testLogger, waitUntil } from '../helpers/pipeline.js';
import { startServices, stopEach, tempDir, uniqueName, type Services } from '../helpers/services.js';

const KEY = '4a4c2d6465766963652d6b65792d30303031';
const V2 = 'meter-sig-v2';
const V1 = 'meter-sig-v1';
const registry = `- { id: ${V2}, sector: energy, region: "220200", types: [meter], key: "${KEY}", sigScheme: v2 }
- { id: ${V1}, sector: energy, region: "220200", types: [meter], key: "${KEY}" }
`;
const topic = (id: string) => `jl/energy/220200/${id}/meter`;

// Wire contract v2 (docs/DEVICES.md) through the real mosquitto and InfluxDB: the signature over
// the bytes as sent, from an MQTT 5 client (user property) and an MQTT 3.1.1 client (trailer);
// a v1 device still works; a wrong signature is still a forgery.
describe('wire contract v2 through mosquitto and InfluxDB', () => {
  let svc: Services;
  let pipeline: Pipeline;
  let dir: string;
  let seq = 1;
  const key = Buffer.from(KEY, 'hex');
  // As firmware writes it: 50.0, 220.0 and a space after each colon.
  const firmwareJson = (frequency: string) =>
    `{"ts": "${new Date(Date.now() - 60_000).toISOString()}", "seq": ${seq++}, "data": {"voltage_a": 220.0, "current_a": 10.0, "active_power": 1.98, "power_factor": 0.90, "frequency": ${frequency}, "energy_total": 1200.0}}`;

  const publish = async (protocolVersion: 4 | 5, messages: { topic: string; payload: string; sig?: string }[]) => {
    const before = pipeline.ledger.totals().received;
    const client = await mqtt.connectAsync(svc.mqttUrl, { clientId: uniqueName(`dev${protocolVersion}`), clean: true, protocolVersion });
    try {
      for (const m of messages) await client.publishAsync(m.topic, m.payload, { qos: 1, ...(m.sig ? { properties: { userProperties: { sig: m.sig } } } : {}) });
    } finally {
      await client.endAsync();
    }
    await waitUntil(() => pipeline.ledger.totals().received === before + messages.length && pipeline.runtime.health().pending === 0, 20_000, 'settled');
  };
  const stored = (device: string) => rows(svc.influxUrl, pipeline.config.influx.database, `SELECT "frequency", "seq" FROM "energy_meter" WHERE "device" = '${device}'`);

  beforeAll(async () => {
    svc = await startServices();
    dir = tempDir();
    const devices = join(dir, 'devices.yaml');
    writeFileSync(devices, registry);
    pipeline = await Pipeline.start(testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: dir, devices }), { logger: testLogger() });
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
  });
  afterAll(() => stopEach(() => pipeline?.stop(), () => svc?.stop()));

  it('stores v2 messages signed in the MQTT 5 user property and in the MQTT 3.1.1 trailer, exactly as sent', async () => {
    const a = firmwareJson('50.0');
    await publish(5, [{ topic: topic(V2), payload: a, sig: signV2(key, topic(V2), a) }]);
    const b = firmwareJson('49.98');
    await publish(4, [{ topic: topic(V2), payload: `${b}\nsig=${signV2(key, topic(V2), b)}` }]);
    expect(deadLetters(dir).filter((l) => l.topic.includes(V2))).toEqual([]);
    expect((await stored(V2)).map((r) => r.frequency)).toEqual([50, 49.98]);
  });

  it('keeps a v1 device working, and raises a forgery for a wrong v2 signature', async () => {
    const p = JSON.parse(firmwareJson('50.0')) as Record<string, unknown>;
    p.sig = sign(key, topic(V1), p);
    await publish(5, [{ topic: topic(V1), payload: JSON.stringify(p) }]);
    expect((await stored(V1)).map((r) => r.frequency)).toEqual([50]);

    const forged = firmwareJson('47.0');
    await publish(5, [
      { topic: topic(V2), payload: forged, sig: signV2(Buffer.alloc(18, 1), topic(V2), forged) },
      // Signed for the device's own key, but sent under another's topic.
      { topic: topic(V2), payload: forged, sig: signV2(key, topic(V1), forged) },
    ]);
    const letters = deadLetters(dir).filter((l) => l.topic.includes(V2));
    expect(letters.map((l) => l.reason)).toEqual(['bad_signature', 'bad_signature']);
    expect((await stored(V2)).map((r) => r.frequency)).toEqual([50, 49.98]);
    await waitUntil(() => pipeline.incidents.all().some((i) => i.kind === 'bad_signature' && Object.hasOwn(i.devices, V2)), 10_000, 'a forgery incident');
  });
});
