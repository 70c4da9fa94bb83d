import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { packageRoot } from '../../config/paths.js';
import { ensureDebianBinary } from '../../services/apt.js';
import { countAllPoints } from '../helpers/influx.js';
import { kcatProduce, kcatRead } from '../helpers/kafka.js';
import { embeddedConfig, exitOf, spawnPipeline, waitUntil } from '../helpers/pipeline.js';
import { tempDir, uniqueName, useServices } from '../helpers/services.js';

// `jlpipe kafka mock`: anyone can try the topology without a Kafka install; outside clients join.
describe('jlpipe kafka mock', () => {
  it('prints a bootstrap address where kcat finds 3 brokers and the topology\'s topics of 6 partitions, and stops on SIGTERM', async () => {
    const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
    const child = spawn(process.execPath, [cli, 'kafka', 'mock', '--brokers', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => void child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitUntil(() => out.includes('\n'), 20_000, 'the bootstrap address on stdout');
    const bootstrap = out.trim();
    expect(bootstrap).toMatch(/^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}$/);
    const meta = JSON.parse(execFileSync(ensureDebianBinary('kcat', 'kcat'), ['-L', '-J', '-b', bootstrap], { encoding: 'utf8' })) as { brokers: unknown[]; topics: { topic: string; partitions: unknown[] }[] };
    expect(meta.brokers).toHaveLength(3);
    const topics = Object.fromEntries(meta.topics.map((t) => [t.topic, t.partitions.length]));
    for (const t of ['jl.readings', 'jl.ingest', 'jl.dlq', 'jl.anomalies', 'jl.state']) expect(topics[t], t).toBe(6);
    kcatProduce(bootstrap, 'jl.ingest', [{ headers: { topic: 'jl/x' }, value: 'hello' }]);
    expect(kcatRead(bootstrap, 'jl.ingest').map((r) => r.value)).toEqual(['hello']);
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  }, 60_000);
});

// `jlpipe start --workers 2 --simulate` with nothing configured but InfluxDB: the supervisor
// hosts a mock cluster and the embedded aedes broker (MQTT 3.1.1, no shared subscriptions), and
// the simulator's readings reach InfluxDB through the gateway, Kafka and the workers.
describe('jlpipe start --workers', () => {
  const svc = useServices();

  it('runs the whole topology on the embedded broker and a hosted mock cluster, starts a dead worker again, and stops cleanly', async () => {
    const dir = tempDir();
    const db = uniqueName('jl_workers');
    const cfg = embeddedConfig(dir, svc.influxUrl, db);
    const { child, stdout } = await spawnPipeline(cfg, ['--workers', '2', '--simulate', '--rate', '300']);
    const started = () => stdout().split('\n').filter((l) => l.includes('"msg":"HTTP API listening"')).length;
    await waitUntil(() => started() === 4, 30_000, 'a gateway, two workers and an incident manager listening');
    await waitUntil(async () => (await countAllPoints(svc.influxUrl, db)) >= 300, 60_000, 'the simulator\'s readings stored through Kafka');
    // A worker dies: the supervisor starts it again (same instance) and the readings go on.
    const worker = childPid(child.pid!, 'worker', '1');
    process.kill(worker, 'SIGKILL');
    await waitUntil(() => stdout().includes('"msg":"child exited: starting it again in 1 s"'), 10_000, 'the supervisor noticed');
    await waitUntil(() => started() === 5, 30_000, 'the worker started again');
    expect(childPid(child.pid!, 'worker', '1')).not.toBe(worker);
    const before = await countAllPoints(svc.influxUrl, db);
    await waitUntil(async () => (await countAllPoints(svc.influxUrl, db)) >= before + 300, 60_000, 'readings stored after the restart');
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    const out = stdout();
    for (const role of ['gateway', 'worker', 'incident manager']) expect(out, `${role} stopped`).toMatch(new RegExp(`"msg":"${role} stopped"`));
  }, 120_000);

  it('its children stop when the supervisor is killed outright (no orphans holding ports and group memberships)', async () => {
    const dir = tempDir();
    const cfg = embeddedConfig(dir, svc.influxUrl, uniqueName('jl_orphans'));
    const { child, stdout } = await spawnPipeline(cfg, ['--workers', '1']);
    await waitUntil(() => stdout().split('\n').filter((l) => l.includes('"msg":"HTTP API listening"')).length === 3, 30_000, 'a gateway, a worker and an incident manager listening');
    const pids = ['gateway', 'worker', 'incidents'].map((role) => childPid(child.pid!, role, '1'));
    child.kill('SIGKILL');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitUntil(() => pids.every((pid) => !alive(pid)), 30_000, 'the children gone');
    expect(stdout()).toContain('"signal":"supervisor gone"');
  }, 90_000);
});

/** The pid of the supervisor's child running `--role <role> --instance <instance>`. */
function childPid(parent: number, role: string, instance: string): number {
  const pids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(parent)], { encoding: 'utf8' }).split('\n').map(Number).filter(Boolean);
  const found = pids.find((pid) => {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args[args.indexOf('--role') + 1] === role && args[args.indexOf('--instance') + 1] === instance;
  });
  if (found === undefined) throw new Error(`no child --role ${role} --instance ${instance} of ${parent}`);
  return found;
}
