import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { rows } from '../helpers/influx.js';
import { deadLetters, publishAll, testConfig, testLogger, waitUntil } from '../helpers/pipeline.js';
import { startServices, stopEach, tempDir, type Services } from '../helpers/services.js';

/** A water sector, as a catalogue change only: one more entry, no code. */
const WATER_ENTRY = `
  - code: "JL-SL-0101-001"
    name: 供水管网监测数据
    alias: Water network monitoring data
    summary: 供水管网监测点上报的流量、压力和浊度。
    sector: water
    messageType: flow
    provider: 吉林省水利厅
    providerCode: "JL-SLT"
    measurement: water_flow
    share: conditional
    open: conditional
    grade: important
    updateCycle: 1m
    schema:
      type: object
      additionalProperties: false
      required: [flow, pressure]
      properties:
        flow: { type: number, minimum: 0, maximum: 10000, x-unit: "m³/h" }
        pressure: { type: number, minimum: 0, maximum: 2, x-unit: MPa }
        turbidity: { type: number, minimum: 0, maximum: 100, x-unit: NTU }
`;

// Done-when 4 of issue 13: sectors and their measurements come from the catalogue only. A test
// catalogue adds a water sector; a water device's readings flow through mosquitto into InfluxDB,
// and a topic of a sector the catalogue does not have is still refused.
describe('a sector defined only in the catalogue', () => {
  let svc: Services;
  let pipeline: Pipeline;
  let dir: string;

  beforeAll(async () => {
    svc = await startServices();
    dir = tempDir();
    const catalogue = join(dir, 'catalogue.yaml');
    writeFileSync(catalogue, readFileSync(loadPipelineConfig(defaultConfigFile(), {}).catalogue, 'utf8').trimEnd() + '\n' + WATER_ENTRY);
    const devices = join(dir, 'devices.yaml');
    writeFileSync(devices, '- { id: water-220100-0001, sector: water, region: "220100", types: [flow] }\n');
    pipeline = await Pipeline.start(testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: dir, devices, catalogue }), { logger: testLogger() });
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
  });
  afterAll(() => stopEach(() => pipeline?.stop(), () => svc?.stop()));

  it('stores a water device\'s readings, tagged with its sector and catalogue entry', async () => {
    const t0 = Date.now() - 300_000;
    const topic = 'jl/water/220100/water-220100-0001/flow';
    await publishAll(svc.mqttUrl, [
      ...[1, 2, 3].map((seq) => ({ topic, payload: JSON.stringify({ ts: t0 + seq * 60_000, seq, data: { flow: 120 + seq, pressure: 0.35, turbidity: 0.8 } }) })),
      { topic: 'jl/gas/220100/water-220100-0001/flow', payload: JSON.stringify({ ts: t0, seq: 9, data: { flow: 1, pressure: 0.3 } }) },
    ]);
    await waitUntil(() => pipeline.ledger.totals().received === 4 && pipeline.runtime.health().pending === 0, 20_000, 'settled');
    const stored = await rows(svc.influxUrl, pipeline.config.influx.database, `SELECT "flow", "pressure", "sector", "code", "grade" FROM "water_flow"`);
    expect(stored.map((r) => [r.flow, r.sector, r.code, r.grade])).toEqual([
      [121, 'water', 'JL-SL-0101-001', 'important'],
      [122, 'water', 'JL-SL-0101-001', 'important'],
      [123, 'water', 'JL-SL-0101-001', 'important'],
    ]);
    expect(deadLetters(dir).map((l) => [l.reason, l.detail])).toEqual([['bad_topic', 'unknown sector "gas" (the catalogue has agri, v2x, energy, iiot, water)']]);
  });
});
