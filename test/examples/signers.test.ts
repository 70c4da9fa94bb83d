import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { packageRoot } from '../../config/paths.js';
import { ensureDebianBinary, ensureDebianPackage } from '../../services/apt.js';
import { rows } from '../helpers/influx.js';
import { deadLetters, testConfig, testLogger, waitUntil } from '../helpers/pipeline.js';
import { startServices, stopEach, tempDir, uniqueName, type Services } from '../helpers/services.js';

const root = packageRoot();
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-paho-mqtt is installed
const KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const DEVICE = 'soil-signer-01';
const TOPIC = `jl/agri/220100/${DEVICE}/soil`;

/** The test vectors of docs/DEVICES.md. */
const vectors = () => JSON.parse(/```json test-vectors\n([\s\S]*?)\n```/.exec(readFileSync(join(root, 'docs', 'DEVICES.md'), 'utf8'))![1]) as { key: string; topic: string; payload: string; sig: string }[];

// The reference signers of examples/ (docs/DEVICES.md): the C one compiled with the Debian
// toolchain, the Python one with Debian's paho-mqtt; each checked on the published vectors and
// each message stored through mosquitto, the pipeline and InfluxDB.
describe('reference signers in examples/', () => {
  let svc: Services;
  let pipeline: Pipeline;
  let dir: string;
  let signer: string;
  let seq = 1;
  // As firmware writes it: 31.0, 12.50.
  const payload = () => `{"ts":"${new Date(Date.now() - 60_000).toISOString()}","seq":${seq++},"data":{"moisture":31.0,"temperature":12.50}}`;

  beforeAll(async () => {
    // Set up like the other services: the Debian toolchain and paho-mqtt are installed if missing.
    ensureDebianBinary('cc', 'gcc');
    ensureDebianPackage('python3-paho-mqtt', () => {
      try {
        execFileSync(PYTHON, ['-c', 'import paho.mqtt'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    }, 'the Python module paho.mqtt (for /usr/bin/python3)');
    dir = tempDir();
    signer = join(dir, 'jl_sign');
    execFileSync('cc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-O2', '-o', signer, join(root, 'examples', 'c', 'jl_sign.c')]);
    svc = await startServices();
    const devices = join(dir, 'devices.yaml');
    writeFileSync(devices, `- { id: ${DEVICE}, sector: agri, region: "220100", types: [soil], key: "${KEY}", sigScheme: v2 }\n`);
    pipeline = await Pipeline.start(testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: dir, devices }), { logger: testLogger() });
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
  });
  afterAll(() => stopEach(() => pipeline?.stop(), () => svc?.stop()));

  it('both give the published test vectors', () => {
    for (const v of vectors()) {
      expect(execFileSync(signer, [v.key, v.topic], { input: Buffer.from(v.payload) }).toString().trim(), `C: ${v.payload}`).toBe(v.sig);
      expect(execFileSync(PYTHON, [join(root, 'examples', 'python', 'jl_publish.py'), '--key', v.key, '--topic', v.topic, '--payload', v.payload, '--sign-only']).toString().trim(), `Python: ${v.payload}`).toBe(v.sig);
    }
  });

  it('their messages are stored: C with the MQTT 3.1.1 trailer, Python over MQTT 5 and 3.1.1', async () => {
    const { hostname, port } = new URL(svc.mqttUrl);
    const before = pipeline.ledger.totals().received;
    // C: signs and appends the trailer; any MQTT 3.1.1 client sends the bytes.
    const fromC = execFileSync(signer, [KEY, TOPIC, '--trailer'], { input: Buffer.from(payload()) });
    const client = await mqtt.connectAsync(svc.mqttUrl, { clientId: uniqueName('c-device'), protocolVersion: 4, clean: true });
    await client.publishAsync(TOPIC, fromC, { qos: 1 });
    await client.endAsync();
    // Python: publishes itself with paho-mqtt.
    for (const mode of [[], ['--mqtt311']]) {
      execFileSync(PYTHON, [join(root, 'examples', 'python', 'jl_publish.py'), '--host', hostname, '--port', port, '--client-id', uniqueName('py-device'), '--key', KEY, '--topic', TOPIC, '--payload', payload(), ...mode]);
    }
    await waitUntil(() => pipeline.ledger.totals().received === before + 3 && pipeline.runtime.health().pending === 0, 20_000, 'three messages settled');
    expect(deadLetters(dir)).toEqual([]);
    const stored = await rows(svc.influxUrl, pipeline.config.influx.database, `SELECT "moisture", "temperature", "seq" FROM "agri_soil" WHERE "device" = '${DEVICE}'`);
    expect(stored.map((r) => [r.seq, r.moisture, r.temperature])).toEqual([
      [1, 31, 12.5],
      [2, 31, 12.5],
      [3, 31, 12.5],
    ]);
  });
});
