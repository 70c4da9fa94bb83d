import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../config/paths.js';
import { countPoints } from '../helpers/influx.js';
import { embeddedConfig, exitOf, spawnPipeline, waitUntil } from '../helpers/pipeline.js';
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
    // Port 0 for the embedded broker and the HTTP API: the child reports what it bound in its
    // log (at info, the default level), where spawnPipeline reads it.
    const cfg = embeddedConfig(dir, svc.influxUrl, db, 'log: { level: info, progressEverySec: 1 }');
    const { child, port, brokerUrl, stdout } = await spawnPipeline(cfg, ['--simulate', '--rate', '300']);
    expect(brokerUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:[1-9]\d*$/);
    await waitUntil(() => (stdout().match(/"msg":"progress: /g) ?? []).length >= 3, 30_000, 'three progress lines');
    await waitUntil(async () => (await countPoints(svc.influxUrl, db, 'energy_meter')) > 0, 10_000, 'points in InfluxDB');
    const token = readFileSync(join(dir, 'data', 'api-token'), 'utf8').trim(); // generated: no tokens configured
    const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`, { headers: { authorization: `Bearer ${token}` } })).json()) as { totals: { received: number; stored: number; deadLettered: number } };
    expect(stats.totals.received).toBeGreaterThan(300);
    expect(stats.totals.deadLettered).toBe(0);
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    const out = stdout();
    expect(out).toContain('"msg":"pipeline stopped"');
    const last = JSON.parse(out.trim().split('\n').filter((l) => l.includes('"msg":"pipeline stopped"'))[0]) as { received: number; stored: number; deadLettered: number; inSpool: number };
    expect(last.received).toBe(last.stored + last.deadLettered + last.inSpool);
  });
});
