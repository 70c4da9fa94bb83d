import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../config/paths.js';
import { freePort } from '../../services/ports.js';
import { countPoints } from '../helpers/influx.js';
import { waitUntil } from '../helpers/pipeline.js';
import { tempDir, uniqueName, useServices } from '../helpers/services.js';

// Done-when 1 (the part a test can show): `jlpipe start --simulate`, what `npm start` runs,
// drives the simulator through the embedded broker and the pipeline into a real InfluxDB,
// prints progress lines, and exits 0 after flushing on SIGTERM.
describe('jlpipe start --simulate', () => {
  const svc = useServices();

  it('runs the demo end to end and stops cleanly', async () => {
    const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
    expect(existsSync(cli), 'run `npm run build` first (npm test does)').toBe(true);
    const dir = tempDir();
    const db = uniqueName('jl_demo');
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const cfg = join(dir, 'pipeline.yaml');
    writeFileSync(
      cfg,
      `catalogue: ${join(packageRoot(), 'config', 'catalogue', 'catalogue.yaml')}
devices: ${join(packageRoot(), 'config', 'devices.yaml')}
dataDir: ${join(dir, 'data')}
mqtt: { url: null, embeddedPort: ${mqttPort} }
influx: { url: "${svc.influxUrl}", database: ${db} }
http: { port: ${httpPort} }
log: { progressEverySec: 1 }
`,
    );
    const child = spawn(process.execPath, [cli, 'start', '--simulate', '--rate', '300', '-c', cfg], { env: { ...process.env, JL_MQTT_URL: '', JL_INFLUX_URL: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitUntil(() => (out.match(/"msg":"progress: /g) ?? []).length >= 3, 30_000, 'three progress lines');
    await waitUntil(async () => (await countPoints(svc.influxUrl, db, 'energy_meter')) > 0, 10_000, 'points in InfluxDB');
    const token = readFileSync(join(dir, 'data', 'api-token'), 'utf8').trim(); // generated: no tokens configured
    const stats = (await (await fetch(`http://127.0.0.1:${httpPort}/stats`, { headers: { authorization: `Bearer ${token}` } })).json()) as { totals: { received: number; stored: number; deadLettered: number } };
    expect(stats.totals.received).toBeGreaterThan(300);
    expect(stats.totals.deadLettered).toBe(0);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('"msg":"pipeline stopped"');
    const last = JSON.parse(out.trim().split('\n').filter((l) => l.includes('"msg":"pipeline stopped"'))[0]) as { received: number; stored: number; deadLettered: number; inSpool: number };
    expect(last.received).toBe(last.stored + last.deadLettered + last.inSpool);
  });
});
