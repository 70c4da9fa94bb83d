import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../config/paths.js';
import { countAllPoints } from '../helpers/influx.js';
import { exitOf, spawnPipeline, waitUntil } from '../helpers/pipeline.js';
import { tempDir, uniqueName, useServices } from '../helpers/services.js';

// `jlpipe start --workers 2 --simulate` with nothing configured but InfluxDB: the supervisor
// hosts a mock cluster and the embedded aedes broker (MQTT 3.1.1, no shared subscriptions), and
// the simulator's readings reach InfluxDB through the gateway, Kafka and the workers.
describe('jlpipe start --workers', () => {
  const svc = useServices();

  it('runs the whole topology on the embedded broker and a hosted mock cluster, and stops cleanly', async () => {
    const dir = tempDir();
    const db = uniqueName('jl_workers');
    const cfg = join(dir, 'pipeline.yaml');
    writeFileSync(
      cfg,
      `catalogue: ${join(packageRoot(), 'config', 'catalogue', 'catalogue.yaml')}
devices: ${join(packageRoot(), 'config', 'devices.yaml')}
dataDir: ${join(dir, 'data')}
mqtt: { url: null, embeddedPort: 0 }
influx: { url: "${svc.influxUrl}", database: ${db} }
http: { port: 0 }
log: { level: info }
`,
    );
    const { child, stdout } = await spawnPipeline(cfg, ['--workers', '2', '--simulate', '--rate', '300']);
    const started = () => stdout().split('\n').filter((l) => l.includes('"msg":"HTTP API listening"')).length;
    await waitUntil(() => started() === 4, 30_000, 'a gateway, two workers and an incident manager listening');
    await waitUntil(async () => (await countAllPoints(svc.influxUrl, db)) >= 300, 60_000, 'the simulator\'s readings stored through Kafka');
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    const out = stdout();
    for (const role of ['gateway', 'worker', 'incident manager']) expect(out, `${role} stopped`).toMatch(new RegExp(`"msg":"${role} stopped"`));
  }, 120_000);
});
