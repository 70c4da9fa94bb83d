import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { packageRoot } from '../../config/paths.js';
import { Simulator } from '../../ingest/simulator/simulator.js';
import { countAllPoints } from '../helpers/influx.js';
import { exitOf, simulate, spawnPipeline, testConfig, testLogger, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { tempDir, uniqueName, useServices } from '../helpers/services.js';

const total = countAllPoints;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Done-when 4: nothing lost and nothing duplicated when InfluxDB dies mid-stream, and when the
// pipeline itself is SIGKILLed mid-stream (QoS 1 persistent session + idempotent points).
describe('resilience', () => {
  const svc = useServices();

  it('loses and duplicates nothing when InfluxDB is killed mid-stream and comes back', async () => {
    expect(svc.influxd, 'this test kills its own influxd; unset JL_INFLUX_URL').toBeDefined();
    const influxd = svc.influxd!;
    const dataDir = tempDir();
    const { file, fleet } = writeFleet(dataDir, 99);
    const pipeline = await Pipeline.start(testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir, devices: file }), { logger: testLogger() });
    onTestFinished(() => pipeline.stop());
    // The next tests need influxd even when this one fails while it is down
    // (registered after the pipeline's stop, so it runs before it: hooks run last-in first-out).
    onTestFinished(async () => {
      if (!influxd.running) await influxd.start();
    });
    const db = pipeline.config.influx.database;
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
    let maxSpooled = 0;
    const watch = setInterval(() => (maxSpooled = Math.max(maxSpooled, pipeline.ledger.totals().inSpool)), 20);
    onTestFinished(() => clearInterval(watch));
    const N = 6000;
    const simDone = simulate(new Simulator({ url: svc.mqttUrl, fleet, rate: 1000, count: N, seed: 3 }));
    await waitUntil(() => pipeline.ledger.totals().stored > 1000, 20_000, 'first points stored');
    await influxd.stop('SIGKILL');
    await waitUntil(() => pipeline.ledger.totals().inSpool > 500, 20_000, 'points spooled while InfluxDB is down');
    await influxd.start();
    await simDone;
    await waitUntil(() => {
      const t = pipeline.ledger.totals();
      return t.received === N && t.stored === N && t.inSpool === 0;
    }, 60_000, 'spool replayed').catch((e) => {
      console.error(JSON.stringify(pipeline.stats()));
      throw e;
    });
    clearInterval(watch);
    expect(maxSpooled).toBeGreaterThan(500);
    expect(await total(svc.influxUrl, db)).toBe(N);
    expect(pipeline.ledger.totals().deadLettered).toBe(0);
  });

  it('loses and duplicates nothing when the broker restarts mid-stream', async () => {
    expect(svc.mosquitto, 'this test restarts its own mosquitto; unset JL_MQTT_URL').toBeDefined();
    const mosquitto = svc.mosquitto!;
    const dataDir = tempDir();
    const { file, fleet } = writeFleet(dataDir, 99);
    const config = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir, devices: file });
    config.mqtt.reconnectMinMs = 200;
    const pipeline = await Pipeline.start(config, { logger: testLogger() });
    onTestFinished(() => pipeline.stop());
    // The next tests need mosquitto even when this one fails while it is down
    // (registered after the pipeline's stop, so it runs before it: hooks run last-in first-out).
    onTestFinished(async () => {
      if (!mosquitto.running) await mosquitto.start();
    });
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
    const N = 6000;
    const simDone = simulate(new Simulator({ url: svc.mqttUrl, fleet, rate: 1000, count: N, seed: 4 }));
    await waitUntil(() => pipeline.ledger.totals().stored > 1500, 20_000, 'first points stored');
    await mosquitto.stop(); // a clean restart: mosquitto saves its persistent sessions
    await sleep(500);
    await mosquitto.start();
    await simDone;
    await waitUntil(async () => (await total(svc.influxUrl, pipeline.config.influx.database)) >= N, 60_000, `all ${N} points stored`);
    await sleep(500);
    expect(await total(svc.influxUrl, pipeline.config.influx.database)).toBe(N);
    expect(pipeline.source.reconnects).toBeGreaterThan(0);
  });

  it('loses and duplicates nothing when the pipeline is SIGKILLed mid-stream and restarted', async () => {
    const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
    expect(existsSync(cli), 'run `npm run build` first (npm test does)').toBe(true);
    const dataDir = tempDir();
    const { file, fleet } = writeFleet(dataDir, 99);
    const db = uniqueName('jl_crash');
    const cfg = join(dataDir, 'pipeline.yaml');
    // Port 0: the child binds a free port and logs it (at info), where spawnPipeline reads it.
    writeFileSync(
      cfg,
      `catalogue: ${join(packageRoot(), 'config', 'catalogue', 'catalogue.yaml')}
devices: ${file}
dataDir: ${join(dataDir, 'data')}
mqtt: { url: "${svc.mqttUrl}", clientId: ${uniqueName('crash')} }
influx: { url: "${svc.influxUrl}", database: ${db} }
http: { port: 0 }
log: { level: info, progressEverySec: 0 }
`,
    );

    let { child } = await spawnPipeline(cfg);
    const N = 8000;
    const simDone = simulate(new Simulator({ url: svc.mqttUrl, fleet, rate: 1000, count: N, seed: 5 }));
    await waitUntil(async () => (await total(svc.influxUrl, db)) > 1500, 20_000, 'first points stored');
    child.kill('SIGKILL');
    await exitOf(child);
    const atCrash = await total(svc.influxUrl, db);
    expect(atCrash).toBeLessThan(N);
    await sleep(1000);
    ({ child } = await spawnPipeline(cfg));
    await simDone;
    await waitUntil(async () => (await total(svc.influxUrl, db)) >= N, 60_000, `all ${N} points stored`);
    await sleep(1000); // anything redelivered late would show up as extra points now
    expect(await total(svc.influxUrl, db)).toBe(N);
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  });
});
