import { describe, expect, it, onTestFinished } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { Simulator } from '../../ingest/simulator/simulator.js';
import { countAllPoints } from '../helpers/influx.js';
import { simulate, testConfig, testLogger, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { tempDir, uniqueName, useServices } from '../helpers/services.js';

// Several instances in one shared-subscription group split the stream between them and
// together store every message exactly once.
describe('two instances in one shared subscription group', () => {
  const svc = useServices();

  it('share the stream and store every message once', async () => {
    const dir = tempDir();
    const { file, fleet } = writeFleet(dir, 99);
    const db = uniqueName('jl_share');
    const group = uniqueName('grp');
    const start = async (i: number) => {
      const c = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: tempDir(), devices: file, db });
      c.mqtt.shareGroup = group;
      c.mqtt.clientId = `${group}-${i}`;
      const p = await Pipeline.start(c, { logger: testLogger() });
      onTestFinished(() => p.stop());
      await waitUntil(() => p.ready().ok, 10_000, `instance ${i} ready`);
      return p;
    };
    const [a, b] = [await start(1), await start(2)];
    const N = 3000;
    await simulate(new Simulator({ url: svc.mqttUrl, fleet, rate: 2000, count: N, seed: 8 }));
    const stored = () => a.ledger.totals().stored + b.ledger.totals().stored;
    await waitUntil(() => stored() === N, 30_000, 'all stored');
    expect(a.ledger.totals().received).toBeGreaterThan(N / 5);
    expect(b.ledger.totals().received).toBeGreaterThan(N / 5);
    expect(a.ledger.totals().received + b.ledger.totals().received).toBe(N);
    expect(await countAllPoints(svc.influxUrl, db)).toBe(N);
  });
});
