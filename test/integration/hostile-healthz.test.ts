import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { getJson, publishAll, sendJson, testConfig, testLogger, TOKENS, waitUntil, watchHealthz } from '../helpers/pipeline.js';
import { startServices, stopEach, tempDir, type Services } from '../helpers/services.js';

const OBU = 'obu-healthz-01';
const SOIL = 'soil-healthz-01';
const KEYED = 'mach-healthz-keyed';
const PLAIN = 'mach-healthz-plain';
const KEY = 'c3'.repeat(32);
const registry = `- { id: ${OBU}, sector: v2x, region: "220100", types: [bsm] }
- { id: ${SOIL}, sector: agri, region: "220100", types: [soil] }
- { id: ${KEYED}, sector: iiot, region: "220200", types: [machine], key: ${KEY} }
- { id: ${PLAIN}, sector: iiot, region: "220200", types: [machine] }
`;
/** A device id (valid in a topic: no `/` nor spaces) made to break a Markdown report: a link and U+202E. */
const ODD = 'ghost-[x](https:e)\u202Eevil';

// Issue 10, done-when 4: every hostile case of the security review leaves the pipeline answering
// /healthz promptly while it happens. One pipeline, the cases one after another, each measured
// with watchHealthz (a blocked event loop in this process counts too).
describe('/healthz stays prompt during the security review\'s hostile cases', () => {
  let svc: Services;
  let pipeline: Pipeline;
  let dir: string;
  let catalogueFile: string;
  let seq = 1;
  const worst: Record<string, number> = {};

  const port = () => pipeline.httpPort!;
  const received = () => pipeline.ledger.totals().received;
  const settled = () => pipeline.runtime.health().pending === 0;
  /** Runs `body` while /healthz is watched; the worst answer must be under the generous bound. */
  const measured = async (name: string, body: () => Promise<void>) => {
    const w = watchHealthz(port());
    try {
      await body();
    } finally {
      const r = await w.stop();
      worst[name] = r.worstMs;
      expect(r.answers, `${name} /healthz answers`).toBeGreaterThan(0);
      expect(r.worstMs, `${name} worst /healthz ${r.worstMs} ms`).toBeLessThan(500);
    }
  };
  /** Publishes and waits until the ledger received them all and nothing is pending. */
  const send = async (messages: { topic: string; payload: string | Buffer }[]) => {
    const before = received();
    await publishAll(svc.mqttUrl, messages);
    await waitUntil(() => received() >= before + messages.length && settled(), 30_000, 'received and settled');
  };

  beforeAll(async () => {
    svc = await startServices();
    dir = tempDir();
    catalogueFile = join(dir, 'catalogue.yaml');
    copyFileSync(loadPipelineConfig(defaultConfigFile(), {}).catalogue, catalogueFile);
    const devices = join(dir, 'devices.yaml');
    writeFileSync(devices, registry);
    pipeline = await Pipeline.start(testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: dir, devices, catalogue: catalogueFile }), { logger: testLogger() });
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
  });
  afterAll(() =>
    stopEach(
      () => console.log('worst /healthz per hostile case (ms):', JSON.stringify(worst)),
      () => pipeline?.stop(),
      () => svc?.stop(),
    ),
  );

  it('1: capacity with a 10-year and an absurd horizon', async () => {
    await measured('capacity horizon', async () => {
      const long = await getJson(port(), '/capacity?horizon=3650d');
      expect(long.status).toBeGreaterThanOrEqual(200);
      expect((await getJson(port(), '/capacity?horizon=99999999d')).status).toBe(400);
    });
  });

  it('2: webhooks to loopback and to the pipeline\'s own InfluxDB are refused', async () => {
    const webhook = (url: string) => ({ name: 'hostile', clearance: 'core', channel: { type: 'webhook', url, secret: 'a-long-enough-secret' } });
    await measured('webhook egress', async () => {
      expect((await sendJson(port(), 'POST', '/subscriptions', webhook(`http://127.0.0.1:${port()}/x`), TOKENS.admin)).status).toBe(400);
      expect((await sendJson(port(), 'POST', '/subscriptions', webhook(`${svc.influxUrl}/query?q=DROP%20DATABASE%20x`), TOKENS.admin)).status).toBe(400);
    });
  });

  it('3: 5,000 messages on distinct junk topics', async () => {
    const rnd = () => Math.random().toString(36).slice(2, 8);
    const payload = JSON.stringify({ ts: Date.now() - 60_000, seq: 1, data: { moisture: 1, temperature: 1 } });
    const junk = Array.from({ length: 5000 }, (_, i) => ({ topic: `jl/${rnd()}/${rnd()}/junk-${i}/${rnd()}`, payload }));
    const before = received();
    await measured('5000 junk topics', () => send(junk));
    expect(received() - before).toBe(5000);
  });

  it('4: messages leaking personal ids (wrong topic, unknown type, escaped key, oversized)', async () => {
    const now = Date.now() - 60_000;
    const bsm = (over: Record<string, unknown> = {}) => JSON.stringify({ ts: now, seq: seq++, data: { vehicle_id: 'C1EA0000000000AB', lat: 43.88, lon: 125.32, speed: 12.5, heading: 90, ...over } });
    const topic = `jl/v2x/220100/${OBU}/bsm`;
    const cases = [
      { topic: `${topic}/x`, payload: bsm() },
      { topic: `${topic}2`, payload: bsm() },
      { topic, payload: bsm().replace('"vehicle_id"', '"vehicle\\u005fid"') },
      { topic, payload: bsm({ note: 'x'.repeat(70_000) }) },
    ];
    const before = pipeline.ledger.totals();
    await measured('personal id leaks', () => send(cases));
    // The escaped key on the right topic is valid JSON for a valid reading: it may be stored.
    expect(pipeline.ledger.totals().received - before.received).toBe(cases.length);
    expect(pipeline.ledger.totals().deadLettered - before.deadLettered).toBeGreaterThanOrEqual(3);
  });

  it('5: integer beyond 2^53, a same-ms seq collision, a malformed signature', async () => {
    const ts = Date.now() - 120_000;
    const soil = `jl/agri/220100/${SOIL}/soil`;
    const reading = (s: number) => ({ topic: soil, payload: JSON.stringify({ ts, seq: s, data: { moisture: 20, temperature: 10 } }) });
    const data = { identifier: '88.101.5/m-1', vibration_rms: 1.5, spindle_speed: 12000, temperature: 40 };
    const big = JSON.stringify({ ts: Date.now() - 1000, seq: seq++, data: { ...data, good_count: 1 } }).replace('"good_count":1', '"good_count":10000000000000000000');
    const badSig = JSON.stringify({ ts: Date.now() - 1000, seq: seq++, data, sig: 'abc' });
    const before = pipeline.ledger.totals().deadLettered;
    await measured('numbers and signatures', async () => {
      await send([reading(5)]);
      await send([reading(1_000_005), { topic: `jl/iiot/220200/${PLAIN}/machine`, payload: big }, { topic: `jl/iiot/220200/${KEYED}/machine`, payload: badSig }]);
    });
    expect(pipeline.ledger.totals().deadLettered - before).toBe(3);
  });

  it('6 and 7: 1,001 unknown devices twice, then the incident\'s Markdown report', async () => {
    const meter = JSON.stringify({ ts: Date.now() - 60_000, seq: 1, data: { voltage_a: 230, current_a: 5, active_power: 1.2, power_factor: 0.95, frequency: 50, energy_total: 1234.5 } });
    const ghosts = [ODD, ...Array.from({ length: 1000 }, (_, i) => `ghost-${i}`)].map((id) => ({ topic: `jl/energy/220100/${id}/meter`, payload: meter }));
    const before = received();
    type Item = { id: string; kind: string; sector?: string; deviceCount?: number };
    const unknownIncidents = async () => (await getJson<{ items: Item[] }>(port(), '/incidents', TOKENS.operator)).body.items.filter((i) => i.kind === 'unknown_device');
    let incident: Item | undefined;
    await measured('1001 unknown devices', async () => {
      await send(ghosts);
      await send(ghosts);
      await waitUntil(async () => (incident = (await unknownIncidents()).find((i) => i.sector === 'energy')) !== undefined, 10_000, 'unknown-device incident');
    });
    expect(received() - before).toBe(2002);
    expect(incident).toBeDefined();
    let report: { status: number; text: string } | undefined;
    await measured('incident Markdown report', async () => {
      const res = await fetch(`http://127.0.0.1:${port()}/incidents/${incident!.id}/report?format=md`, { headers: { authorization: `Bearer ${TOKENS.operator}` } });
      report = { status: res.status, text: await res.text() };
    });
    expect(report!.status).toBe(200);
    expect(report!.text).toContain('# Incident report');
    expect(report!.text).toContain('ghost-\\[x\\]'); // the odd id is listed, escaped
    expect(report!.text).not.toContain('](https');
    expect(report!.text).not.toContain('\u202E');
  });

  it('8: a hot reload that changes a field\'s type', async () => {
    const version = pipeline.live.catalogue().version;
    const { failures } = pipeline.live.status;
    const good = readFileSync(catalogueFile, 'utf8');
    expect(good).toContain('moisture: { type: number,');
    try {
      await measured('catalogue type change', async () => {
        writeFileSync(catalogueFile, good.replace('moisture: { type: number,', 'moisture: { type: integer,').replace(`version: "${version}"`, 'version: "2099.1.1"'));
        await waitUntil(() => pipeline.live.status.failures > failures, 10_000, 'reload refused');
      });
      expect(pipeline.live.catalogue().version).toBe(version);
    } finally {
      writeFileSync(catalogueFile, good);
    }
    await waitUntil(() => pipeline.live.status.lastError === undefined, 10_000, 'good catalogue back');
  });
});
