import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../config/paths.js';
import { Spool } from '../../storage/spool/spool.js';
import { countPoints } from '../helpers/influx.js';
import { tempDir, uniqueName, useServices } from '../helpers/services.js';

// `jlpipe spool inspect` and `jlpipe spool replay`, with the pipeline stopped.
describe('jlpipe spool', () => {
  const svc = useServices();

  it('inspects what waits per source and replays it into InfluxDB', async () => {
    const dir = tempDir();
    const spool = new Spool(join(dir, 'data', 'spool'), { maxBytes: 1 << 20, segmentBytes: 4096 });
    try {
      for (let i = 0; i < 30; i++) {
        await spool.append({ sources: { 'agri/220100/soil': 2, 'energy/220200/meter': 1 }, lines: [`agri_soil,device=s1 moisture=${i},seq=${i}i ${1_700_000_000_000 + i}000000`, `agri_soil,device=s2 moisture=${i},seq=${i}i ${1_700_000_000_000 + i}000000`, `energy_meter,device=m1 frequency=50,seq=${i}i ${1_700_000_000_000 + i}000000`] });
      }
    } finally {
      await spool.close();
    }
    const db = uniqueName('jl_spool');
    const cfg = join(dir, 'pipeline.yaml');
    writeFileSync(cfg, `dataDir: ${join(dir, 'data')}\ninflux: { url: "${svc.influxUrl}", database: ${db} }\n`);
    const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
    const env = { ...process.env, JL_INFLUX_URL: '', JL_DATA_DIR: '' };
    const timeout = 60_000; // a hung child is killed, not waited for forever (spawnSync blocks the test's timer too)

    const inspect = () => JSON.parse(spawnSync(process.execPath, [cli, 'spool', 'inspect', '-c', cfg], { encoding: 'utf8', env, timeout }).stdout) as { points: number; bytes: number; sources: Record<string, number> };
    expect(inspect()).toMatchObject({ points: 90, sources: { 'agri/220100/soil': 60, 'energy/220200/meter': 30 } });

    const replay = spawnSync(process.execPath, [cli, 'spool', 'replay', '-c', cfg], { encoding: 'utf8', env, timeout });
    expect(replay.status, replay.stderr).toBe(0);
    expect(replay.stdout).toContain('spool replayed');
    expect(await countPoints(svc.influxUrl, db, 'agri_soil')).toBe(60);
    expect(await countPoints(svc.influxUrl, db, 'energy_meter')).toBe(30);
    expect(inspect()).toMatchObject({ points: 0, bytes: 0 });
  });
});
