import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { rows } from '../helpers/influx.js';
import { deadLetters, publishAll, testConfig, waitUntil } from '../helpers/pipeline.js';
import { startServices, stopEach, tempDir, type Services } from '../helpers/services.js';

const DEVICE = 'soil-firmware-01';
const TOPIC = `jl/agri/220100/${DEVICE}/soil`;

// Done-when 3 of issue 13, through the real mosquitto and InfluxDB: a firmware update adds a
// field (`battery`) that the catalogue does not name; no reading is lost, and the operator is
// told once (a log line, /metrics), not once per message.
describe('a firmware update that adds a field', () => {
  let svc: Services;
  let pipeline: Pipeline;
  let dir: string;
  const logLines: { msg: string; device?: string; fields?: string[] }[] = [];

  beforeAll(async () => {
    svc = await startServices();
    dir = tempDir();
    const devices = join(dir, 'devices.yaml');
    writeFileSync(devices, `- { id: ${DEVICE}, sector: agri, region: "220100", types: [soil] }\n`);
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(JSON.parse(line) as (typeof logLines)[number]) });
    pipeline = await Pipeline.start(testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: dir, devices }), { logger });
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
  });
  afterAll(() => stopEach(() => pipeline?.stop(), () => svc?.stop()));

  it('stores every reading before and after it, and tells the operator once', async () => {
    const t0 = Date.now() - 600_000;
    // Old firmware: epoch ms; new firmware: epoch seconds and a battery field.
    const before = [1, 2, 3].map((seq) => ({ topic: TOPIC, payload: JSON.stringify({ ts: t0 + seq * 1000, seq, data: { moisture: 30 + seq, temperature: 10 } }) }));
    const after = [4, 5, 6, 7, 8].map((seq) => ({ topic: TOPIC, payload: JSON.stringify({ ts: (t0 + seq * 1000) / 1000, seq, data: { moisture: 30 + seq, temperature: 10, battery: 3.7 } }) }));
    await publishAll(svc.mqttUrl, [...before, ...after]);
    await waitUntil(() => pipeline.ledger.totals().received === 8 && pipeline.runtime.health().pending === 0, 20_000, 'all settled');

    expect(deadLetters(dir)).toEqual([]);
    const stored = await rows(svc.influxUrl, pipeline.config.influx.database, `SELECT * FROM "agri_soil" WHERE "device" = '${DEVICE}'`);
    expect(stored.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(stored.map((r) => r.moisture)).toEqual([31, 32, 33, 34, 35, 36, 37, 38]);
    expect(stored.every((r) => !('battery' in r) || r.battery === null)).toBe(true);

    const told = logLines.filter((l) => l.device === DEVICE && l.fields);
    expect(told).toHaveLength(1);
    expect(told[0].fields).toEqual(['battery']);
    expect(told[0].msg).toMatch(/does not name/);
    const metrics = await (await fetch(`http://127.0.0.1:${pipeline.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^jl_unknown_field_messages_total 5$/m);
    expect(metrics).toMatch(/^jl_unknown_field_devices 1$/m);
  });
});
