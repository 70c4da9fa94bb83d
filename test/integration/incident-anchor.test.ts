import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { checkpointMac, recordHash, type LogRecord } from '../../alerts/incident-log.js';
import { packageRoot } from '../../config/paths.js';
import { MessageFactory } from '../../ingest/simulator/simulator.js';
import { rows } from '../helpers/influx.js';
import { publishAll, testConfig, testLogger, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { tempDir, useServices } from '../helpers/services.js';

const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
const run = promisify(execFile);

/** `jlpipe incidents verify` with `args`: exit code, stdout, stderr. */
async function verify(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [cli, 'incidents', 'verify', ...args], { timeout: 30_000, env: { ...process.env, JL_INCIDENT_LOG_KEY: '' } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

// Finding 6 of the security review (issue 10): the log is MAC'd under a key outside the data dir,
// and checkpoints of its head reach InfluxDB, so `incidents verify --against` catches a log cut
// with its head rewritten, and a record deleted with the chain recomputed.
describe('incident log anchored off the host', () => {
  const svc = useServices();

  it('writes signed checkpoints to InfluxDB; verify --against them catches both forgeries', async () => {
    expect(existsSync(cli), 'run `npm run build` first (npm test does)').toBe(true);
    const dir = tempDir();
    const { file: devices, fleet } = writeFleet(dir, 99);
    const config = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: join(dir, 'data'), devices });
    const keyFile = join(dir, 'keys', 'incident-log.key');
    config.incidents.logKeyFile = keyFile;
    config.incidents.checkpointEveryMs = 1000;
    const pipeline = await Pipeline.start(config, { logger: testLogger() });
    let stopped = false;
    onTestFinished(() => (stopped ? undefined : pipeline.stop()));
    await waitUntil(() => pipeline.source.subscribed, 10_000, 'subscribed');

    // Forged meter messages in three regions: three incidents, three records.
    const factory = new MessageFactory(fleet, 3);
    const meters = [...new Map(fleet.filter((d) => d.kind === 'meter').map((d) => [d.region, d])).values()].slice(0, 3);
    await publishAll(
      svc.mqttUrl,
      meters.map((d) => {
        const m = factory.make(d, 'meter', Date.now());
        return { topic: m.topic, payload: JSON.stringify({ ...m.payload, sig: 'ab'.repeat(32) }) };
      }),
    );
    await waitUntil(() => pipeline.incidents.list().total === 3, 10_000, 'three incidents');
    const key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'hex');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    type Row = { time: number; n: number; hash: string; mac: string };
    const checkpoints = async () => (await rows(svc.influxUrl, config.influx.database, 'SELECT "n", "hash", "mac" FROM "incident_log_checkpoints"').catch(() => [])) as Row[];
    await waitUntil(async () => (await checkpoints()).some((c) => c.n >= 3), 20_000, 'a checkpoint of n >= 3 in InfluxDB');
    await pipeline.stop();
    stopped = true;
    const row = (await checkpoints()).find((c) => c.n >= 3)!;
    const cp = { n: row.n, hash: row.hash, at: Math.round(row.time / 1e6), mac: row.mac };
    expect(cp.mac).toBe(checkpointMac(key, cp));
    const cpFile = join(dir, 'checkpoint.json');
    writeFileSync(cpFile, JSON.stringify(cp));

    const log = join(dir, 'data', 'incidents', 'incidents.log');
    let r = await verify('--log', log, '--key', keyFile, '--against', cpFile);
    expect(r.stdout).toMatch(/^ok: \d+ records, chain, MACs and head intact, reaches the checkpoint n=\d+/);
    r = await verify('--log', log);
    expect([r.code, r.stdout]).toEqual([0, expect.stringMatching(/^ok: .*NOT AUTHENTICATED: no log key/)]);
    expect(r.stderr).toMatch(/warning: no log key/);

    const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
    const records = lines.map((l) => JSON.parse(l) as LogRecord);
    const tampered = (name: string, recs: LogRecord[]) => {
      const f = join(dir, `${name}.log`);
      writeFileSync(f, recs.map((x) => JSON.stringify(x)).join('\n') + '\n');
      const last = recs.at(-1)!;
      writeFileSync(`${f}.head`, JSON.stringify({ n: last.n, hash: last.hash, at: last.at }));
      return f;
    };
    // 1. Cut before the checkpoint, the head rewritten to match.
    const cut = tampered('cut', records.slice(0, cp.n - 1));
    expect((await verify('--log', cut)).code).toBe(0); // the finding: a consistent chain, no key
    for (const args of [['--key', keyFile], ['--against', cpFile], ['--key', keyFile, '--against', cpFile]]) {
      r = await verify('--log', cut, ...args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([1, expect.stringMatching(/^TAMPERED: /)]);
    }
    expect((await verify('--log', cut, '--against', cpFile)).stderr).toMatch(/records \d+\.\.\d+ missing at the end \(the checkpoint of .* says \d+\): cut/);
    // 2. Record 2 deleted and the chain recomputed (numbers, prev and hash).
    let prev = '0'.repeat(64);
    const rechained = records
      .filter((x) => x.n !== 2)
      .map((x, i) => {
        const y = { ...x, n: i + 1, prev };
        y.hash = recordHash(prev, y);
        prev = y.hash;
        return y;
      });
    const deleted = tampered('deleted', rechained);
    expect((await verify('--log', deleted)).code).toBe(0); // the finding
    r = await verify('--log', deleted, '--key', keyFile);
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/^TAMPERED: line 2 \(record n=2, incident INC-.*MAC does not match/)]);
    r = await verify('--log', deleted, '--against', cpFile);
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/^TAMPERED: .*(does not match the checkpoint|missing at the end)/)]);
  }, 120_000);
});
