import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { sign } from '../../core/signature.js';
import { rows } from '../helpers/influx.js';
import { deadLetters, publishAll, testConfig, testLogger, waitUntil } from '../helpers/pipeline.js';
import { startServices, stopEach, tempDir, uniqueName, type Services } from '../helpers/services.js';

const OBU = 'obu-hardening-01';
const SOIL = 'soil-hardening-01';
const SOIL_RELOAD = 'soil-hardening-02';
const KEYED = 'mach-hardening-keyed';
const PLAIN = 'mach-hardening-plain';
const KEY = 'b2'.repeat(32);
const registry = `- { id: ${OBU}, sector: v2x, region: "220100", types: [bsm] }
- { id: ${SOIL}, sector: agri, region: "220100", types: [soil] }
- { id: ${SOIL_RELOAD}, sector: agri, region: "220100", types: [soil] }
- { id: ${KEYED}, sector: iiot, region: "220200", types: [machine], key: ${KEY} }
- { id: ${PLAIN}, sector: iiot, region: "220200", types: [machine] }
`;

// Findings of the security review (issue 10), rows 5, 8, 11 and 15, through the real mosquitto
// and InfluxDB: one pipeline, each test on its own devices and counting only its own messages.
describe('ingest hardening (security review, issue 10)', () => {
  let svc: Services;
  let pipeline: Pipeline;
  let dir: string;
  let catalogueFile: string;
  let dlq: mqtt.MqttClient;
  const published: { topic: string; payload: Buffer }[] = [];
  let seq = 1;

  const settled = () => {
    const t = pipeline.ledger.totals();
    return pipeline.runtime.health().pending === 0 && t.received === t.stored + t.deadLettered;
  };
  const send = async (messages: { topic: string; payload: string | Buffer }[]) => {
    const before = pipeline.ledger.totals().received;
    await publishAll(svc.mqttUrl, messages);
    await waitUntil(() => pipeline.ledger.totals().received === before + messages.length && settled(), 20_000, 'settled');
  };
  const lettersOf = (topicPart: string) => deadLetters(dir).filter((l) => l.topic.includes(topicPart));

  beforeAll(async () => {
    svc = await startServices();
    dir = tempDir();
    catalogueFile = join(dir, 'catalogue.yaml');
    copyFileSync(loadPipelineConfig(defaultConfigFile(), {}).catalogue, catalogueFile);
    const devices = join(dir, 'devices.yaml');
    writeFileSync(devices, registry);
    dlq = await mqtt.connectAsync(svc.mqttUrl, { clientId: uniqueName('dlq'), clean: true });
    dlq.on('message', (topic, payload) => published.push({ topic, payload }));
    await dlq.subscribeAsync('jl/_dlq/#', { qos: 1 });
    pipeline = await Pipeline.start(testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: dir, devices, catalogue: catalogueFile }), { logger: testLogger() });
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
  });
  afterAll(() =>
    stopEach(
      () => pipeline?.stop(),
      () => dlq?.endAsync(),
      () => svc?.stop(),
    ),
  );

  it('row 5: no vehicle_id in clear in dead letters, on disk or on jl/_dlq/#, whatever the topic, escaping or size', async () => {
    const now = Date.now() - 60_000;
    let n = 0;
    const id = () => `C1EA${(n++).toString(16).padStart(12, '0')}`.toUpperCase();
    const bsm = (vehicle: string, over: Record<string, unknown> = {}) => ({ ts: now, seq: seq++, data: { vehicle_id: vehicle, lat: 43.88, lon: 125.32, speed: 12.5, heading: 90, ...over } });
    const topic = `jl/v2x/220100/${OBU}/bsm`;
    const pad = 'x'.repeat(70_000); // past limits.maxPayloadBytes (65536)
    const cases: { name: string; topic: string; payload: string | Buffer; reason: string; id: string }[] = [];
    const add = (name: string, t: string, make: (vehicle: string) => string | Buffer, reason: string) => {
      const v = id();
      cases.push({ name, topic: t, payload: make(v), reason, id: v });
    };
    add('extra topic level', `${topic}/x`, (v) => JSON.stringify(bsm(v)), 'bad_topic');
    add('unknown message type', `${topic}2`, (v) => JSON.stringify(bsm(v)), 'not_in_catalogue');
    add('another known type of the sector', `jl/v2x/220100/${OBU}/rsu_status`, (v) => JSON.stringify(bsm(v)), 'device_mismatch');
    add('escaped key, broken JSON', topic, (v) => JSON.stringify(bsm(v)).replace('"vehicle_id"', '"vehicle\\u005fid"').slice(0, -2), 'invalid_json');
    add('escaped key (upper-case hex), wrong topic', `${topic}/x`, (v) => JSON.stringify(bsm(v)).replace('"vehicle_id"', '"\\u0076ehicle\\u005Fid"'), 'bad_topic');
    add('unquoted value (V8 quotes it in its error message)', topic, (v) => `{"ts":${now},"seq":${seq++},"data":{"vehicle_id": ${v}}}`, 'invalid_json');
    add('id at the top level of the envelope', topic, (v) => JSON.stringify({ ...bsm('0123456789ABCDEF', { speed: 999 }), vehicle_id: v }), 'schema_violation');
    add('oversized, plain key, unknown type', `${topic}2`, (v) => JSON.stringify(bsm(v, { note: pad })), 'payload_too_large');
    add('oversized, escaped key, right topic', topic, (v) => JSON.stringify(bsm(v, { note: pad })).replace('"vehicle_id"', '"vehi\\u0063le_id"'), 'payload_too_large');
    add('oversized, escaped key, extra topic level', `${topic}/x`, (v) => JSON.stringify(bsm(v, { note: pad })).replace('"vehicle_id"', '"\\u0076\\u0065\\u0068\\u0069\\u0063\\u006c\\u0065\\u005f\\u0069\\u0064"'), 'bad_topic');
    add('invalid UTF-8 and an escaped key', `${topic}/x`, (v) => Buffer.concat([Buffer.from(`{"ts":${now},"data":{"vehicle\\u005fid":"${v}","b":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]), 'bad_topic');

    await send(cases);
    const texts = readdirSync(join(dir, 'dlq')).map((f) => readFileSync(join(dir, 'dlq', f), 'utf8'));
    await waitUntil(() => published.length >= cases.length, 10_000, 'dead letters on jl/_dlq/#');
    const letters = deadLetters(dir).filter((l) => l.topic.includes(OBU));
    // Every byte that left the pipeline: the files, base64 payloads decoded, and jl/_dlq/# as received.
    const seen = [
      ...texts.map((t) => Buffer.from(t)),
      ...letters.filter((l) => l.payloadEncoding === 'base64').map((l) => Buffer.from(l.payload, 'base64')),
      ...published.map((m) => m.payload),
      ...published.map((m) => JSON.parse(m.payload.toString('utf8')) as { payload: string; payloadEncoding: string }).filter((b) => b.payloadEncoding === 'base64').map((b) => Buffer.from(b.payload, 'base64')),
    ];
    expect(cases.filter((c) => seen.some((b) => b.includes(c.id))).map((c) => c.name)).toEqual([]);
    expect(letters).toHaveLength(cases.length);
    for (const c of cases) {
      const want = cases.filter((x) => x.topic === c.topic && x.reason === c.reason).length;
      expect(letters.filter((l) => l.topic === c.topic && l.reason === c.reason), c.name).toHaveLength(want);
    }
    // Redacted, not dropped: each letter keeps the pseudonym in place of the id.
    for (const l of letters) expect(l.payloadEncoding === 'utf8' && l.payload.includes('"ps_'), l.detail).toBe(true);
    expect(published.filter((m) => m.topic.startsWith('jl/_dlq/')).length).toBeGreaterThanOrEqual(cases.length);
  });

  it('row 8a: two readings in one ms whose seqs share the sub-ms digits are never silently merged; a redelivery still is', async () => {
    const ts = Date.now() - 120_000;
    const topic = `jl/agri/220100/${SOIL}/soil`;
    const reading = (s: number, moisture: number) => ({ topic, payload: JSON.stringify({ ts, seq: s, data: { moisture, temperature: 10 } }) });
    await send([reading(5, 21.5)]);
    await send([reading(6, 22.5)]);
    await send([reading(1_000_005, 23.5)]); // same ms, same sub-ms digits as seq 5
    // Both readings kept (the first not overwritten); the one that would collide dead-lettered.
    const stored = await rows(svc.influxUrl, pipeline.config.influx.database, `SELECT "moisture", "seq" FROM "agri_soil" WHERE "device" = '${SOIL}'`);
    expect(stored.map((r) => [r.seq, r.moisture])).toEqual([
      [5, 21.5],
      [6, 22.5],
    ]);
    const letters = lettersOf(SOIL);
    expect(letters).toHaveLength(1);
    expect(letters[0].reason).toBe('schema_violation');
    expect(letters[0].detail).toMatch(/seq 1000005 has the same event ms .* as seq 5/);
    // Redelivered: the same point, overwritten by itself; nothing refused.
    await send([reading(5, 21.5)]);
    expect(lettersOf(SOIL)).toHaveLength(1);
    expect(await rows(svc.influxUrl, pipeline.config.influx.database, `SELECT "moisture", "seq" FROM "agri_soil" WHERE "device" = '${SOIL}'`)).toEqual(stored);
  });

  it('row 11: a keyed device\'s malformed signature is bad_signature and raises the forgery anomaly', async () => {
    const before = Object.entries(pipeline.detection.stats().anomalies).filter(([k]) => k.startsWith('forgery.')).reduce((a, [, v]) => a + v, 0);
    const data = { identifier: '88.101.5/m-1', vibration_rms: 1.5, spindle_speed: 12000, temperature: 40 };
    const keyedTopic = `jl/iiot/220200/${KEYED}/machine`;
    const plainTopic = `jl/iiot/220200/${PLAIN}/machine`;
    const msg = (topic: string, sig: unknown) => ({ topic, payload: JSON.stringify({ ts: Date.now() - 1000, seq: seq++, data, sig }) });
    const good = { ts: Date.now() - 1000, seq: seq++, data } as Record<string, unknown>;
    good.sig = sign(Buffer.from(KEY, 'hex'), keyedTopic, good);
    await send([msg(keyedTopic, 'abc'), msg(keyedTopic, 'zz'.repeat(32)), msg(keyedTopic, 'a'.repeat(65)), msg(keyedTopic, 42), msg(plainTopic, 'abc'), { topic: keyedTopic, payload: JSON.stringify(good) }]);
    const keyed = lettersOf(KEYED);
    expect(keyed.map((l) => l.reason)).toEqual(['bad_signature', 'bad_signature', 'bad_signature', 'bad_signature']);
    for (const l of keyed) expect(l.detail).toMatch(/signature is malformed/);
    // An unkeyed device's sig is never checked: a malformed one stays a schema problem.
    expect(lettersOf(PLAIN).map((l) => [l.reason, l.detail])).toEqual([['schema_violation', 'envelope /sig must be 64 hex characters']]);
    const after = Object.entries(pipeline.detection.stats().anomalies).filter(([k]) => k.startsWith('forgery.')).reduce((a, [, v]) => a + v, 0);
    expect(pipeline.detection.stats().anomalies['forgery.bad_signature']).toBeGreaterThan(0);
    expect(after - before).toBe(4);
  });

  it('row 15: a hot reload that changes a field\'s type is refused, and later readings are still stored', async () => {
    const topic = `jl/agri/220100/${SOIL_RELOAD}/soil`;
    const db = pipeline.config.influx.database;
    const reading = (moisture: number) => ({ topic, payload: JSON.stringify({ ts: Date.now() - 1000, seq: seq++, data: { moisture, temperature: 10 } }) });
    await send([reading(31.5)]);
    const version = pipeline.live.catalogue().version;
    const { failures, reloads } = pipeline.live.status;
    const good = readFileSync(catalogueFile, 'utf8');
    expect(good).toContain('moisture: { type: number,');
    writeFileSync(catalogueFile, good.replace('moisture: { type: number,', 'moisture: { type: integer,').replace(`version: "${version}"`, 'version: "2099.1.1"'));
    try {
      await waitUntil(() => pipeline.live.status.failures > failures || pipeline.live.status.reloads > reloads, 10_000, 'reload seen');
      expect(pipeline.live.status.reloads).toBe(reloads);
      expect(pipeline.live.status.failures).toBe(failures + 1);
      const err = pipeline.live.status.lastError!;
      expect(err).toContain(catalogueFile);
      expect(err).toMatch(/catalogue\.yaml:\d+: \/entries\/0\/schema\/properties\/moisture\/type: field "moisture" of measurement agri_soil changes type from float to integer/);
      expect(pipeline.live.catalogue().version).toBe(version);
      // An integral value: valid under the refused schema too, and stored as the running float.
      await send([reading(32)]);
      expect(lettersOf(SOIL_RELOAD)).toHaveLength(0);
      const stored = await rows(svc.influxUrl, db, `SELECT "moisture", "catalog_version" FROM "agri_soil" WHERE "device" = '${SOIL_RELOAD}'`);
      expect(stored.map((r) => [r.moisture, r.catalog_version])).toEqual([
        [31.5, version],
        [32, version],
      ]);
    } finally {
      writeFileSync(catalogueFile, good);
    }
    await waitUntil(() => pipeline.live.status.lastError === undefined, 10_000, 'good catalogue back');
  });
});
