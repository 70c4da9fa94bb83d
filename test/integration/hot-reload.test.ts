import { copyFileSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { MessageFactory } from '../../ingest/simulator/simulator.js';
import { makeFleet } from '../../ingest/simulator/fleet.js';
import { rows } from '../helpers/influx.js';
import { getJson, publishAll, testConfig, testLogger, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { startServices, stopEach, tempDir, type Services } from '../helpers/services.js';

// Done-when 6: the catalogue and registry reload on file change; points carry the new
// version; a broken catalogue is refused with a precise error and the last good one stays.
describe('hot reload of catalogue and registry', () => {
  let svc: Services;
  let pipeline: Pipeline;
  let dir: string;
  let catalogueFile: string;
  let devicesFile: string;
  const fleet = makeFleet(99, 'test');
  const factory = new MessageFactory(fleet, 9);
  const soil = fleet.find((d) => d.types.includes('soil'))!;

  const publishSoil = async (device = soil) => {
    const m = factory.make(device, 'soil', Date.now());
    await publishAll(svc.mqttUrl, [{ topic: m.topic, payload: JSON.stringify(m.payload) }]);
    await waitUntil(() => pipeline.runtime.health().pending === 0 && pipeline.ledger.totals().received === pipeline.ledger.totals().stored + pipeline.ledger.totals().deadLettered, 10_000, 'settled');
    return m.payload.seq as number;
  };
  const versionOf = async (device: string, seq: number) =>
    (await rows(svc.influxUrl, pipeline.config.influx.database, `SELECT "catalog_version", "seq" FROM "agri_soil" WHERE "device" = '${device}' AND "seq" = ${seq}`))[0]?.catalog_version;

  beforeAll(async () => {
    svc = await startServices();
    dir = tempDir();
    catalogueFile = join(dir, 'catalogue.yaml');
    copyFileSync(loadPipelineConfig(defaultConfigFile(), {}).catalogue, catalogueFile);
    devicesFile = writeFleet(dir, 99).file;
    pipeline = await Pipeline.start(testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: dir, devices: devicesFile, catalogue: catalogueFile }), { logger: testLogger() });
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
  });
  // Each step also when beforeAll failed part way (unset) or an earlier step fails.
  afterAll(() =>
    stopEach(
      () => pipeline?.stop(),
      () => svc?.stop(),
    ),
  );

  // The tests share one pipeline and its files, but none relies on what another changed: each
  // reads the catalogue version, failure count and reject counts in force when it starts.

  it('applies a new catalogue version without a restart', async () => {
    expect(await versionOf(soil.id, await publishSoil())).toBe('2026.11.1');
    writeFileSync(catalogueFile, readFileSync(catalogueFile, 'utf8').replace('version: "2026.11.1"', 'version: "2026.11.2"'));
    await waitUntil(() => pipeline.live.catalogue().version === '2026.11.2', 10_000, 'catalogue reloaded');
    expect(await versionOf(soil.id, await publishSoil())).toBe('2026.11.2');
  });

  it('refuses a broken catalogue with file, path and problem, and keeps the last good one', async () => {
    const version = pipeline.live.catalogue().version;
    const failures = pipeline.live.status.failures;
    const good = readFileSync(catalogueFile, 'utf8');
    writeFileSync(catalogueFile, good.replace('grade: general', 'grade: secret'));
    await waitUntil(() => pipeline.live.status.failures === failures + 1, 10_000, 'reload refused');
    const err = pipeline.live.status.lastError!;
    expect(err).toContain(catalogueFile);
    expect(err).toMatch(/\/entries\/0\/grade: must be one of \["general","important","core"\]/);
    expect(err).toMatch(/catalogue\.yaml:\d+:/); // the line of the bad value
    expect(pipeline.live.catalogue().version).toBe(version);
    expect(await versionOf(soil.id, await publishSoil())).toBe(version);
    const stats = (await getJson<{ catalogue: { failures: number; lastError: string } }>(pipeline.httpPort!, '/stats')).body;
    expect(stats.catalogue.lastError).toBe(err);
    writeFileSync(catalogueFile, good);
    await waitUntil(() => pipeline.live.status.lastError === undefined, 10_000, 'good catalogue back');
  });

  it('picks up a device added to the registry', async () => {
    const newcomer = { ...soil, id: 'soil-newcomer-01' };
    const unknownBefore = pipeline.ledger.snapshot().reasons.unknown_device ?? 0;
    await publishSoil(newcomer);
    expect(pipeline.ledger.snapshot().reasons.unknown_device).toBe(unknownBefore + 1);
    appendFileSync(devicesFile, `- { id: ${newcomer.id}, sector: agri, region: "${soil.region}", types: [soil] }\n`);
    await waitUntil(() => pipeline.live.registry().has(newcomer.id), 10_000, 'registry reloaded');
    const seq = await publishSoil(newcomer);
    expect(await versionOf(newcomer.id, seq)).toBe(pipeline.live.catalogue().version);
  });
});
