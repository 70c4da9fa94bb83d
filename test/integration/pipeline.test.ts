import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { MessageFactory } from '../../ingest/simulator/simulator.js';
import { countPoints, rows } from '../helpers/influx.js';
import { deadLetters, getJson, publishAll, testConfig, testLogger, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { startServices, stopEach, tempDir, uniqueName, type Services } from '../helpers/services.js';

// Done-when 2 and 5 of the core issue: valid messages of all seven types from all regions and
// invalid ones go through the real mosquitto into the real InfluxDB; exact counts, reasons,
// a balanced ledger, and no personal identifier in clear anywhere.
describe('MQTT -> validate -> tag -> InfluxDB through real services', () => {
  let svc: Services;
  let pipeline: Pipeline;
  let dataDir: string;
  const valid: { topic: string; payload: string; measurement: string }[] = [];
  const invalid: { topic: string; payload: string; reason: string }[] = [];
  const published: { topic: string; letter: { reason: string; topic: string } }[] = [];
  let dlqClient: MqttClient;

  beforeAll(async () => {
    svc = await startServices();
    dataDir = tempDir();
    const { file, fleet } = writeFleet(dataDir, 99);
    const catalogue = loadCatalogue(loadPipelineConfig(defaultConfigFile(), {}).catalogue);
    const factory = new MessageFactory(fleet, 42);
    const t0 = Date.now() - 60_000;
    for (let round = 0; round < 2; round++) {
      for (const d of fleet) {
        for (const type of d.types) {
          const m = factory.make(d, type, t0 + round * 1000);
          valid.push({ topic: m.topic, payload: JSON.stringify(m.payload), measurement: catalogue.byType.get(`${d.sector}/${type}`)!.measurement });
        }
      }
    }
    const meter = fleet.find((d) => d.types.includes('meter'))!;
    const soil = fleet.find((d) => d.types.includes('soil'))!;
    const good = factory.make(soil, 'soil', t0);
    const signed = factory.make(meter, 'meter', t0);
    invalid.push(
      { topic: 'jl/agri/220100', payload: JSON.stringify(good.payload), reason: 'bad_topic' },
      { topic: `jl/agri/220100/${soil.id}/soil`, payload: '{"ts":', reason: 'invalid_json' },
      { topic: `jl/agri/${soil.region}/${soil.id}/greenhouse`, payload: JSON.stringify(good.payload), reason: 'not_in_catalogue' },
      { topic: `jl/agri/${soil.region}/ghost-0001/soil`, payload: JSON.stringify(good.payload), reason: 'unknown_device' },
      { topic: `jl/agri/${soil.region === '220100' ? '220200' : '220100'}/${soil.id}/soil`, payload: JSON.stringify(good.payload), reason: 'device_mismatch' },
      { topic: signed.topic, payload: JSON.stringify({ ...signed.payload, sig: 'ab'.repeat(32) }), reason: 'bad_signature' },
      { topic: good.topic, payload: JSON.stringify({ ...good.payload, data: { ...(good.payload.data as object), moisture: 140 } }), reason: 'schema_violation' },
      { topic: good.topic, payload: JSON.stringify({ ...good.payload, pad: 'x'.repeat(70_000) }), reason: 'payload_too_large' },
    );
    dlqClient = await mqtt.connectAsync(svc.mqttUrl, { clientId: uniqueName('dlq'), clean: true });
    dlqClient.on('message', (topic, payload) => published.push({ topic, letter: JSON.parse(payload.toString()) as { reason: string; topic: string } }));
    await dlqClient.subscribeAsync('jl/_dlq/#', { qos: 1 });
    pipeline = await Pipeline.start(testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir, devices: file }), { logger: testLogger() });
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
    await publishAll(svc.mqttUrl, [...valid, ...invalid]);
    await waitUntil(() => pipeline.ledger.totals().received === valid.length + invalid.length && pipeline.runtime.health().pending === 0, 30_000, 'all messages settled');
  });

  // Each step also when beforeAll failed part way (unset) or an earlier step fails.
  afterAll(() =>
    stopEach(
      () => dlqClient?.endAsync(),
      () => pipeline?.stop(),
      () => svc?.stop(),
    ),
  );

  it('stores exactly the valid messages, per measurement', async () => {
    const expected = new Map<string, number>();
    for (const v of valid) expected.set(v.measurement, (expected.get(v.measurement) ?? 0) + 1);
    expect(expected.size).toBe(7);
    for (const [m, n] of expected) expect(await countPoints(svc.influxUrl, pipeline.config.influx.database, m), m).toBe(n);
  });

  it('tags every point with catalogue metadata and the catalogue version', async () => {
    const r = await rows(svc.influxUrl, pipeline.config.influx.database, 'SELECT * FROM "v2x_bsm" LIMIT 1');
    expect(r[0]).toMatchObject({ code: 'JL-JT-0201-001', sector: 'v2x', grade: 'important', share: 'conditional', catalog_version: '2026.11.1' });
    expect(String(r[0].region)).toMatch(/^22\d{4}$/);
    const regions = await rows(svc.influxUrl, pipeline.config.influx.database, 'SHOW TAG VALUES FROM "agri_soil" WITH KEY = "region"');
    expect(regions.length).toBe(9);
  });

  it('dead-letters every invalid message with its reason, on disk', () => {
    const letters = deadLetters(dataDir);
    expect(letters.length).toBe(invalid.length);
    for (const inv of invalid) {
      const l = letters.find((x) => x.topic === inv.topic && (x.payload === inv.payload || x.truncated));
      expect(l?.reason, inv.reason).toBe(inv.reason);
    }
    const big = letters.find((l) => l.reason === 'payload_too_large')!;
    expect(big.truncated).toBe(true);
    expect(big.payloadSize).toBeGreaterThan(70_000);
    expect(Buffer.byteLength(big.payload)).toBeLessThanOrEqual(4096);
  });

  it('also publishes every dead letter to jl/_dlq/{reason}', async () => {
    await waitUntil(() => published.length >= invalid.length, 10_000, 'dead letters on the broker');
    expect(published.map((p) => p.topic).sort()).toEqual(invalid.map((i) => `jl/_dlq/${i.reason}`).sort());
    for (const p of published) expect(p.topic).toBe(`jl/_dlq/${p.letter.reason}`);
  });

  it('balances the ledger: received = stored + dead-lettered, per source, also over HTTP', async () => {
    type Counts = { received: number; stored: number; deadLettered: number; inSpool: number };
    const { status, body } = await getJson<{ totals: Counts & { nacked: number }; sources: Record<string, Counts>; balanced: boolean }>(pipeline.httpPort!, '/stats');
    expect(status).toBe(200);
    expect(body.totals).toEqual({ received: valid.length + invalid.length, stored: valid.length, deadLettered: invalid.length, inSpool: 0, nacked: 0 });
    for (const [src, c] of Object.entries(body.sources)) {
      expect(c.received, src).toBe(c.stored + c.deadLettered + c.inSpool);
    }
    expect(body.balanced).toBe(true);
    expect((await getJson(pipeline.httpPort!, '/healthz')).status).toBe(200);
  });

  it('stores no personal field in clear, in InfluxDB or in the dead letters', async () => {
    const clearIds = new Set(valid.filter((v) => v.measurement === 'v2x_bsm').map((v) => (JSON.parse(v.payload).data as { vehicle_id: string }).vehicle_id));
    expect(clearIds.size).toBeGreaterThan(0);
    const stored = await rows(svc.influxUrl, pipeline.config.influx.database, 'SELECT "vehicle_id" FROM "v2x_bsm"');
    expect(stored.length).toBe(valid.filter((v) => v.measurement === 'v2x_bsm').length);
    for (const r of stored) {
      expect(String(r.vehicle_id)).toMatch(/^ps_[0-9a-f]{32}$/);
      expect(clearIds.has(String(r.vehicle_id))).toBe(false);
    }
    // A rejected BSM keeps its identifier pseudonymised in the dead letter too.
    const rsu = valid.find((v) => v.measurement === 'v2x_bsm')!;
    const clear = (JSON.parse(rsu.payload).data as { vehicle_id: string }).vehicle_id;
    const broken = rsu.payload.replace('"seq":', '"seq":-');
    const truncatedJson = rsu.payload.slice(0, rsu.payload.indexOf(clear) + clear.length + 2);
    const lettersBefore = deadLetters(dataDir).length;
    await publishAll(svc.mqttUrl, [
      { topic: rsu.topic, payload: broken },
      { topic: rsu.topic, payload: truncatedJson },
    ]);
    await waitUntil(() => deadLetters(dataDir).length === lettersBefore + 2, 10_000, 'two more dead letters');
    const text = JSON.stringify(deadLetters(dataDir));
    for (const id of clearIds) expect(text.includes(id), id).toBe(false);
  });
});
