import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { defaultConfigFile, loadPipelineConfig, type PipelineConfig } from '../app/config.js';
import { packageRoot } from '../config/paths.js';
import { MockCluster } from '../kafka/mock-cluster.js';
import { topicSpecs } from '../kafka/topics.js';
import { hashToken } from '../server/auth.js';
import { waitUntil } from '../services/process.js';
import { countAll, cpuSeconds, dropSession, log, MEASUREMENTS, percentile, prepareSession, publishBacklog, waitForIdle } from './shared.js';

/** What the Kafka benchmark needs from the run that hosts it (services, fleet, messages). */
export interface KafkaBenchEnv {
  /** Scratch dir of the run (configs and data dirs of the role processes go below it). */
  dir: string;
  mqttUrl: string;
  influxUrl: string;
  influxPid?: number;
  /** The registry file of the fleet and the catalogue. */
  devices: string;
  catalogue: string;
  /** A `jlpipe simulate` config for the same fleet. */
  simConfig: string;
  /** `n` messages of the fleet, as the single-process runs use them. */
  make: (n: number) => { topic: string; payload: string }[];
  /** Messages of the gateway backlog (its readings then feed the worker runs). */
  messages: number;
  /** The single-process pipeline's rate of the same run, msg/s. */
  singleProcessRate: number;
  latencySeconds: number;
  warmupSeconds: number;
}

const PARTITIONS = 6;
const BROKERS = 3;
const CHECKPOINT_OFF_MS = 86_400_000;
const TOKEN = 'bench-viewer-token';
const NODE_FLAGS = ['--max-semi-space-size=32'];

/** The counters of a role's /stats the benchmark reads. */
interface RoleStats {
  totals: { received: number; stored: number; deadLettered: number; inSpool: number; nacked: number };
  pending: number;
  state?: { checkpoints: number; records: number; bytes: number; restoredDevices: number; skipped: number; failures: number };
  kafka: { consumers: { partitions: number[]; rebalances: number }[]; produced: { delivered: number; failed: number } };
}

/** A role in its own process, as `jlpipe start --role` runs it (built dist/). */
interface RoleProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  port: number;
  exited: Promise<void>;
}

/** One sample of the running roles: their counters and CPU seconds, and the bench process's (the mock brokers). */
interface Sample {
  at: number;
  stats: RoleStats[];
  cpu: number[];
  hostCpu: number;
}

/** Per-process figures of a drain. */
interface ProcessFigures {
  messages: number;
  cpu_us_per_msg: number;
  cpu_share_of_one_core: number;
}

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hostCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Starts `jlpipe start -c cfg --role <role> --instance <instance>` and waits for its HTTP port. */
async function spawnRole(cfg: string, role: 'gateway' | 'worker', instance: string): Promise<RoleProcess> {
  const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
  // No JL_* variable of the bench's environment may override the config file.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JL_')));
  const child = spawn(process.execPath, [...NODE_FLAGS, cli, 'start', '-c', cfg, '--role', role, '--instance', instance], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  // What a role printed on stderr is summed up in one line when it exits (e.g. a crash while stopping).
  const exited = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      const err = stderr.split('\n').find((l) => /Error/.test(l));
      if (code !== 0 || err) log(`    ${role}-${instance} exited (code ${code}, signal ${signal})${err ? `: ${err.trim()}` : ''}`);
      r();
    }),
  );
  let port: number | undefined;
  let buf = '';
  const tail: string[] = [];
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) {
      tail.push(l);
      if (tail.length > 20) tail.shift();
      if (port !== undefined || !l.includes('HTTP API listening')) continue;
      try {
        port = (JSON.parse(l) as { port?: number }).port;
      } catch {
        /* not a log record */
      }
    }
  });
  const name = `${role}-${instance}`;
  try {
    await waitUntil(() => {
      if (!running(child)) throw new Error(`${name} exited (code ${child.exitCode}) before it listened:\n${tail.join('\n')}`);
      return port !== undefined;
    }, 30_000, `${name} listening`, 20);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { name, child, pid: child.pid!, port: port!, exited };
}

async function stopRole(r: RoleProcess): Promise<void> {
  if (!running(r.child)) return;
  r.child.kill('SIGTERM');
  const killed = setTimeout(() => r.child.kill('SIGKILL'), 20_000);
  await r.exited;
  clearTimeout(killed);
}

async function getJson<T>(port: number, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, body: (await res.json()) as T };
}

async function sample(roles: RoleProcess[]): Promise<Sample> {
  const stats = await Promise.all(roles.map(async (r) => (await getJson<RoleStats>(r.port, '/stats')).body));
  return { at: performance.now(), stats, cpu: roles.map((r) => cpuSeconds(r.pid)), hostCpu: hostCpuSeconds() };
}

/** Messages a role has finished with: stored (given to Kafka or InfluxDB) or dead-lettered. */
const done = (s: RoleStats) => s.totals.stored + s.totals.deadLettered;

/**
 * Samples the roles every `everyMs` from before they start working until `finished(total)` is
 * true; resolves with the first sample in which any of them had finished a message and
 * `settled` holds (e.g. the consumer group has spread its partitions), and the last one.
 * Rates and CPU per message are taken between those two samples, so start-up (connecting,
 * joining the group) counts in neither. `working` is the first sample with a message done.
 */
async function drain(roles: RoleProcess[], finished: (total: number) => Promise<boolean>, timeoutMs: number, settled: (s: Sample) => boolean = () => true, everyMs = 50): Promise<{ first: Sample; last: Sample; working: Sample; settled: boolean }> {
  const until = Date.now() + timeoutMs;
  let first: Sample | undefined;
  let working: Sample | undefined;
  let shown = Date.now();
  for (;;) {
    const s = await sample(roles);
    const total = s.stats.reduce((a, x) => a + done(x), 0);
    if (!working && total > 0) working = s;
    if (working && !first && settled(s)) first = s;
    if (working && (await finished(total))) return first ? { first, last: s, working, settled: true } : { first: working, last: s, working, settled: false };
    if (Date.now() > until) throw new Error(`Kafka bench: only ${total} messages done after ${timeoutMs / 1000} s`);
    if (Date.now() - shown > 5000) {
      shown = Date.now();
      log(`    ${total} done`);
    }
    await sleep(everyMs);
  }
}

function figures(d: { first: Sample; last: Sample }, i: number): ProcessFigures {
  const messages = done(d.last.stats[i]) - done(d.first.stats[i]);
  const cpu = d.last.cpu[i] - d.first.cpu[i];
  const wall = (d.last.at - d.first.at) / 1000;
  return { messages, cpu_us_per_msg: Math.round((cpu / Math.max(1, messages)) * 1e6), cpu_share_of_one_core: Number((cpu / wall).toFixed(2)) };
}

function rateOf(d: { first: Sample; last: Sample }): number {
  const n = d.last.stats.reduce((a, x) => a + done(x), 0) - d.first.stats.reduce((a, x) => a + done(x), 0);
  return Math.round(n / ((d.last.at - d.first.at) / 1000));
}

/** CPU of the benchmark process per message of a drain: the mock brokers' threads, and its own sampling. */
function hostUsPerMsg(d: { first: Sample; last: Sample }): number {
  const n = d.last.stats.reduce((a, x) => a + done(x), 0) - d.first.stats.reduce((a, x) => a + done(x), 0);
  return Math.round(((d.last.hostCpu - d.first.hostCpu) / Math.max(1, n)) * 1e6);
}

/**
 * An HTTP proxy in front of InfluxDB that times each write: once InfluxDB acknowledged a
 * write (204), each point of the fleet's measurements in it is visible, and its latency is
 * that moment minus its event time (the line's timestamp is the event time in ms followed by
 * 6 digits of seq). This is the single-process latency's method (event time to the batch's
 * acknowledgement by InfluxDB), seen from outside the worker process.
 */
export async function influxProxy(target: string, onWrite: (eventMs: number[], at: number, writeMs: number) => void): Promise<{ url: string; close(): Promise<void> }> {
  const fleet = new Set(MEASUREMENTS);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const started = performance.now();
      const up = request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (ur) => {
        const back: Buffer[] = [];
        ur.on('data', (c: Buffer) => back.push(c));
        ur.on('end', () => {
          const at = Date.now();
          const writeMs = performance.now() - started;
          const answer = Buffer.concat(back);
          const headers: IncomingHttpHeaders = { ...ur.headers, 'content-length': String(answer.length) };
          delete headers['transfer-encoding'];
          res.writeHead(ur.statusCode ?? 502, headers);
          res.end(answer);
          if (req.method !== 'POST' || !req.url?.startsWith('/write') || ur.statusCode !== 204) return;
          const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8');
          const times: number[] = [];
          for (const line of text.split('\n')) {
            if (!line) continue;
            const m = /^[^, ]+/.exec(line)?.[0];
            if (!m || !fleet.has(m)) continue;
            const ts = line.slice(line.lastIndexOf(' ') + 1);
            times.push(Number(ts.slice(0, -6)));
          }
          if (times.length) onWrite(times, at, writeMs);
        });
      });
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(e.message);
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/**
 * The Kafka benchmarks (SPEC 8 scale-out) on a librdkafka mock cluster hosted in this process
 * (3 brokers, 6 partitions), with the run's mosquitto and influxd, every role a child process
 * as `jlpipe start --role` runs it:
 * (k1) one gateway draining an MQTT backlog into jl.readings; (k2) 1, then 2 workers draining
 * those readings into InfluxDB (fresh group, state topic and database each); (k3) the state
 * checkpoint's cost: one worker again with checkpoints effectively off; (k4) publish-to-stored
 * latency through gateway, Kafka and one worker at half the slower stage's rate.
 */
export async function kafkaBench(env: KafkaBenchEnv) {
  const mock = MockCluster.start(BROKERS);
  const roles: RoleProcess[] = [];
  const start = async (cfg: string, role: 'gateway' | 'worker', instance: string) => {
    const r = await spawnRole(cfg, role, instance);
    roles.push(r);
    return r;
  };
  try {
    /** A config for one run, its topics created on the mock cluster and written as YAML for the role processes. */
    const runConfig = (name: string, tune: (c: PipelineConfig) => void = () => {}) => {
      const c = loadPipelineConfig(defaultConfigFile(), {});
      c.devices = env.devices;
      c.catalogue = env.catalogue;
      c.dataDir = join(env.dir, 'kafka', name);
      c.mqtt = { ...c.mqtt, url: env.mqttUrl, clientId: `bench-k-${name}-${process.pid}`, shareGroup: `bench-${name}` };
      c.influx = { ...c.influx, url: env.influxUrl, database: `bench_kafka_${name.replace(/\W/g, '_')}` };
      c.http = { ...c.http, port: 0, host: '127.0.0.1' };
      c.log = { ...c.log, level: 'info', progressEverySec: 0 };
      c.pseudonymKey = '11'.repeat(32);
      c.api.tokens = [{ name: 'bench', role: 'viewer', sha256: hashToken(TOKEN) }];
      c.kafka.brokers = mock.bootstrap;
      c.kafka.partitions = PARTITIONS;
      c.kafka.groups = { ...c.kafka.groups, workers: `bench-workers-${name}` };
      c.kafka.topics = { ...c.kafka.topics, state: `jl.state.${name}` };
      tune(c);
      // Topics the mock cluster lacks would cost each role a 10 s CreateTopics timeout.
      for (const t of topicSpecs(c.kafka)) mock.createTopic(t.topic, PARTITIONS, BROKERS);
      mkdirSync(c.dataDir, { recursive: true });
      const rest: Partial<PipelineConfig> = { ...c };
      delete rest.file;
      const file = join(c.dataDir, 'pipeline.yaml');
      writeFileSync(file, stringify(rest));
      return { c, file };
    };
    const settle = async () => {
      const s = await waitForIdle(env.influxPid, 0.1, 30_000);
      log(`    influxd idle after ${s} s`);
    };

    // (k1) The gateway drains a backlog queued for its shared-subscription session.
    const n = env.messages;
    log(`(k1) Kafka: one gateway process, MQTT backlog of ${n} messages -> jl.readings (${PARTITIONS} partitions, ${BROKERS} mock brokers in the bench process)`);
    const gw = runConfig('gw');
    const gwClient = `${gw.c.mqtt.clientId}-gateway-1`;
    await prepareSession(env.mqttUrl, gwClient, `$share/${gw.c.mqtt.shareGroup}/${gw.c.mqtt.topic}`);
    await publishBacklog(env.mqttUrl, env.make(n));
    const gateway = await start(gw.file, 'gateway', '1');
    const g = await drain([gateway], async (total) => total >= n, 600_000);
    const gwFinal = g.last.stats[0];
    const gwRate = rateOf(g);
    const gwProc = figures(g, 0);
    const gwHost = hostUsPerMsg(g);
    await stopRole(gateway);
    await dropSession(env.mqttUrl, gwClient);
    const readings = gwFinal.totals.stored;
    log(`    ${gwRate} msg/s (${(gwRate / env.singleProcessRate).toFixed(2)} x the single process's ${env.singleProcessRate}); gateway CPU ${gwProc.cpu_us_per_msg} us/msg, ${Math.round(gwProc.cpu_share_of_one_core * 100)} % of a core; bench process (mock brokers) ${gwHost} us/msg; ${readings} readings on jl.readings, ${gwFinal.totals.deadLettered} dead-lettered`);

    // (k2, k3) Workers drain the readings the gateway produced.
    const workerRun = async (name: string, count: number, checkpointMs: number) => {
      await settle();
      log(`(k2) Kafka: ${count} worker process${count > 1 ? 'es' : ''} drain ${readings} readings from jl.readings into InfluxDB (stateCheckpointMs ${checkpointMs})`);
      const run = runConfig(name, (c) => {
        c.kafka.stateCheckpointMs = checkpointMs;
        // A worker also checkpoints before each offset commit: "off" has to space commits out too.
        if (checkpointMs === CHECKPOINT_OFF_MS) c.kafka.commitEveryMs = CHECKPOINT_OFF_MS;
      });
      const workers = await Promise.all(Array.from({ length: count }, (_, i) => start(run.file, 'worker', String(i + 1))));
      let points = 0;
      // With several workers the window opens once the group has spread the partitions over all of them.
      const spread = (x: Sample) => x.stats.every((st) => (st.kafka.consumers[0]?.partitions.length ?? 0) > 0) && x.stats.reduce((a, st) => a + (st.kafka.consumers[0]?.partitions.length ?? 0), 0) === PARTITIONS;
      const d = await drain(workers, async (total) => total >= readings && (points = await countAll(env.influxUrl, run.c.influx.database)) >= readings, 600_000, spread);
      const settleSeconds = Number(((d.first.at - d.working.at) / 1000).toFixed(1));
      const beforeSettled = d.first.stats.reduce((a, x) => a + done(x), 0);
      const rate = rateOf(d);
      const procs = workers.map((_, i) => figures(d, i));
      const wall = (d.last.at - d.first.at) / 1000;
      const state = d.last.stats.reduce(
        (a, s, i) => {
          const s0 = d.first.stats[i].state;
          return { checkpoints: a.checkpoints + (s.state?.checkpoints ?? 0) - (s0?.checkpoints ?? 0), records: a.records + (s.state?.records ?? 0) - (s0?.records ?? 0), bytes: a.bytes + (s.state?.bytes ?? 0) - (s0?.bytes ?? 0) };
        },
        { checkpoints: 0, records: 0, bytes: 0 },
      );
      const rebalances = d.last.stats.reduce((a, s) => a + (s.kafka.consumers[0]?.rebalances ?? 0), 0);
      const stored = d.last.stats.reduce((a, s) => a + s.totals.stored, 0);
      const figs = {
        workers: count,
        state_checkpoint_ms: checkpointMs,
        msgs_per_s: rate,
        seconds: Number(wall.toFixed(1)),
        per_worker: procs,
        cpu_us_per_msg: Math.round(procs.reduce((a, p) => a + p.cpu_us_per_msg * p.messages, 0) / Math.max(1, procs.reduce((a, p) => a + p.messages, 0))),
        bench_process_us_per_msg: hostUsPerMsg(d),
        state_checkpoints: state.checkpoints,
        state_records_per_s: Math.round(state.records / wall),
        state_bytes_per_s: Math.round(state.bytes / wall),
        rebalances,
        group_settled: d.settled,
        settle_seconds: settleSeconds,
        done_before_settled: beforeSettled,
        stored_twice: stored - readings,
        points,
      };
      log(`    ${rate} msg/s; CPU ${procs.map((p) => `${p.cpu_us_per_msg} us/msg (${Math.round(p.cpu_share_of_one_core * 100)} % of a core, ${p.messages} msgs)`).join(' + ')}; jl.state ${figs.state_checkpoints} checkpoints, ${figs.state_records_per_s} records/s, ${figs.state_bytes_per_s} B/s; ${points} points in InfluxDB; group ${d.settled ? `settled ${settleSeconds} s after the first message (${beforeSettled} done before, not counted)` : 'never spread over every worker'}, ${rebalances} rebalances, ${stored - readings} stored twice`);
      await Promise.all(workers.map(stopRole));
      return figs;
    };
    const one = await workerRun('w1', 1, 1000);
    const two = await workerRun('w2', 2, 1000);
    const noCheckpoint = await workerRun('w1-nockpt', 1, CHECKPOINT_OFF_MS);

    // (k4) Latency through gateway -> jl.readings -> worker -> InfluxDB.
    await settle();
    // Gateway and worker share the machine: together they sustain about 1 / (1/gateway + 1/worker).
    const sustained = Math.round(1 / (1 / gwRate + 1 / one.msgs_per_s));
    const rate = Math.round(sustained / 2);
    const seconds = env.latencySeconds;
    log(`(k4) Kafka latency at ${rate} msg/s (half of 1/(1/gateway + 1/worker) = ${sustained}) for ${env.warmupSeconds} + ${seconds} s: simulator -> mosquitto -> gateway -> jl.readings -> worker -> InfluxDB`);
    const latencies: number[] = [];
    const writeMs: number[] = [];
    let seen = 0;
    let countFrom = Infinity;
    const proxy = await influxProxy(env.influxUrl, (times, at, ms) => {
      seen += times.length;
      if (Date.now() >= countFrom) writeMs.push(Math.round(ms));
      for (const t of times) if (t >= countFrom) latencies.push(at - t);
    });
    try {
      const lat = runConfig('lat', (c) => {
        c.influx.url = proxy.url;
        c.kafka.topics.readings = 'jl.readings.lat';
      });
      const worker = await start(lat.file, 'worker', '1');
      const gateway2 = await start(lat.file, 'gateway', '1');
      await waitUntil(async () => (await getJson<RoleStats>(worker.port, '/stats')).body.kafka.consumers[0]?.partitions.length === PARTITIONS && (await getJson(gateway2.port, '/readyz')).status === 200, 30_000, 'latency topology ready');
      const count = rate * (env.warmupSeconds + seconds);
      const cpu0 = [cpuSeconds(gateway2.pid), cpuSeconds(worker.pid)];
      const t0 = performance.now();
      countFrom = Date.now() + env.warmupSeconds * 1000;
      // Where messages wait, sampled each second: unacked at the gateway, behind on jl.readings for the worker.
      const queues = { gatewayPending: 0, workerLag: 0, workerPending: 0 };
      let simDone = false;
      const watch = (async () => {
        while (!simDone || seen < count) {
          const [gs, ws] = await Promise.all([getJson<RoleStats>(gateway2.port, '/stats'), getJson<RoleStats & { kafka: { consumers: { totalLag: number }[] } }>(worker.port, '/stats')]);
          queues.gatewayPending = Math.max(queues.gatewayPending, gs.body.pending);
          queues.workerLag = Math.max(queues.workerLag, ws.body.kafka.consumers[0]?.totalLag ?? 0);
          queues.workerPending = Math.max(queues.workerPending, ws.body.pending);
          if (performance.now() - t0 > 120_000) return;
          await sleep(1000);
        }
      })();
      const simT0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
        const sim = spawn(process.execPath, [cli, 'simulate', '-c', env.simConfig, '--url', env.mqttUrl, '--rate', String(rate), '--count', String(count), '--seed', String(rate + 1)], { stdio: ['ignore', 'ignore', 'inherit'] });
        sim.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`simulator exited ${code}`))));
      });
      const simSeconds = (performance.now() - simT0) / 1000;
      simDone = true;
      await waitUntil(() => seen >= count, 60_000, 'Kafka latency run stored');
      await watch;
      const wall = (performance.now() - t0) / 1000;
      const shares = [cpuSeconds(gateway2.pid) - cpu0[0], cpuSeconds(worker.pid) - cpu0[1]].map((s) => Number((s / wall).toFixed(2)));
      await Promise.all([stopRole(gateway2), stopRole(worker)]);
      await dropSession(env.mqttUrl, `${lat.c.mqtt.clientId}-gateway-1`);
      latencies.sort((a, b) => a - b);
      writeMs.sort((a, b) => a - b);
      const latency = { rate, sustained_msgs_per_s: sustained, warmup_s: env.warmupSeconds, p50_ms: percentile(latencies, 50), p99_ms: percentile(latencies, 99), counted: latencies.length, total: count, influx_write_p50_ms: percentile(writeMs, 50), influx_write_p99_ms: percentile(writeMs, 99), influx_writes: writeMs.length, simulator_seconds: Number(simSeconds.toFixed(1)), max_gateway_pending: queues.gatewayPending, max_worker_lag: queues.workerLag, max_worker_pending: queues.workerPending, gateway_cpu_share: shares[0], worker_cpu_share: shares[1] };
      log(`    p50 ${latency.p50_ms} ms, p99 ${latency.p99_ms} ms over ${latency.counted} messages; InfluxDB writes p50 ${latency.influx_write_p50_ms} ms, p99 ${latency.influx_write_p99_ms} ms over ${latency.influx_writes}; simulator took ${latency.simulator_seconds} s; most waiting: ${queues.gatewayPending} unacked at the gateway, ${queues.workerLag} behind on jl.readings, ${queues.workerPending} in the worker; gateway ${Math.round(shares[0] * 100)} %, worker ${Math.round(shares[1] * 100)} % of a core`);

      return {
        brokers: BROKERS,
        partitions: PARTITIONS,
        messages: n,
        single_process_msgs_per_s: env.singleProcessRate,
        gateway: {
          msgs_per_s: gwRate,
          ratio_to_single_process: Number((gwRate / env.singleProcessRate).toFixed(2)),
          cpu_us_per_msg: gwProc.cpu_us_per_msg,
          cpu_share_of_one_core: gwProc.cpu_share_of_one_core,
          bench_process_us_per_msg: gwHost,
          readings,
          dead_lettered: gwFinal.totals.deadLettered,
        },
        workers: { one, two, scaling: Number((two.msgs_per_s / one.msgs_per_s).toFixed(2)) },
        /** `workers.one` ran with checkpoints every second (the default); `off` is the same run with them effectively off. */
        checkpoint: {
          every_ms: one.state_checkpoint_ms,
          on_cpu_us_per_msg: one.cpu_us_per_msg,
          off_cpu_us_per_msg: noCheckpoint.cpu_us_per_msg,
          cpu_cost: Number((one.cpu_us_per_msg / noCheckpoint.cpu_us_per_msg - 1).toFixed(3)),
          state_bytes_per_s: one.state_bytes_per_s,
          state_records_per_s: one.state_records_per_s,
          off: noCheckpoint,
        },
        latency,
      };
    } finally {
      await proxy.close();
    }
  } finally {
    await Promise.all(roles.map(stopRole));
    mock.close();
  }
}

export type KafkaFigures = Awaited<ReturnType<typeof kafkaBench>>;

const us = (v: number | undefined) => (v === undefined ? '-' : `${v} µs`);
const pct = (share: number | undefined) => (share === undefined ? '-' : `${Math.round(share * 100)} %`);

/**
 * The "Scale-out on Kafka" section of BENCHMARKS.md. `k` is undefined for a benchmarks.json
 * written before the Kafka benchmark existed: every figure then reads "-".
 */
export function kafkaMarkdown(k: KafkaFigures | undefined, machine: { cores: number }, single: { msgsPerS: number; cpuShare: number }): string {
  const singleUs = Math.round((single.cpuShare / single.msgsPerS) * 1e6);
  const g = k?.gateway;
  const w1 = k?.workers.one;
  const w2 = k?.workers.two;
  const cp = k?.checkpoint;
  const lat = k?.latency;
  const perWorker = (w?: typeof w1) => (w ? w.per_worker.map((p) => `${p.cpu_us_per_msg} µs (${pct(p.cpu_share_of_one_core)} of a core, ${p.messages} messages)`).join('; ') : '-');
  const table = `| measure | result |
|---|---|
| (k1) one gateway process: MQTT backlog of ${k?.messages ?? '-'} messages -> jl.readings (parse, validate, verify HMAC, tag, pseudonymise, produce with acks=all, PUBACK after the delivery report) | **${g?.msgs_per_s ?? '-'} msg/s** = **${g?.ratio_to_single_process ?? '-'} x** the single process's (3) ${k?.single_process_msgs_per_s ?? '-'} msg/s in this run (target >= 3 x) |
| (k1) CPU of the gateway process per message; its share of a core during the drain | ${us(g?.cpu_us_per_msg)}; ${pct(g?.cpu_share_of_one_core)} (single process (3): ≈ ${k ? singleUs : '-'} µs per message for the whole pipeline) |
| (k1) CPU of the bench process per message (it hosts the ${k?.brokers ?? '-'} mock brokers; idle otherwise) | ${us(g?.bench_process_us_per_msg)} |
| (k2) 1 worker process: the ${g?.readings ?? '-'} readings jl.readings -> InfluxDB (decode, detection, statistics, write, commit) | **${w1?.msgs_per_s ?? '-'} msg/s**; ${us(w1?.cpu_us_per_msg)} CPU per message, ${pct(w1?.per_worker[0]?.cpu_share_of_one_core)} of a core |
| (k2) 2 worker processes, same readings, fresh consumer group, state topic and database | **${w2?.msgs_per_s ?? '-'} msg/s** (${k?.workers.scaling ?? '-'} x one worker), counted once the group had spread the 6 partitions over both (${w2?.settle_seconds ?? '-'} s after the first message; ${w2?.done_before_settled ?? '-'} messages done before that are not counted); CPU per message per worker: ${perWorker(w2)}; ${w2?.rebalances ?? '-'} rebalances, ${w2?.stored_twice ?? '-'} readings stored twice (read again after a rebalance) |
| (k2) CPU of the bench process (mock brokers) per message, 1 / 2 workers | ${us(w1?.bench_process_us_per_msg)} / ${us(w2?.bench_process_us_per_msg)} |
| (k3) worker CPU per message with detector state checkpointed to jl.state every ${cp?.every_ms ?? '-'} ms (default) / effectively off (every ${cp?.off.state_checkpoint_ms ?? '-'} ms) | ${us(cp?.on_cpu_us_per_msg)} / ${us(cp?.off_cpu_us_per_msg)}: checkpointing ${cp ? `${cp.cpu_cost >= 0 ? '+' : ''}${(cp.cpu_cost * 100).toFixed(1)} %` : '-'}; throughput ${w1?.msgs_per_s ?? '-'} / ${cp?.off.msgs_per_s ?? '-'} msg/s; checkpoints written: ${w1?.state_checkpoints ?? '-'} / ${cp?.off.state_checkpoints ?? '-'} |
| (k3) written to jl.state while checkpointing every ${cp?.every_ms ?? '-'} ms | **${cp ? Math.round(cp.state_bytes_per_s / 1024) : '-'} KiB/s**, ${cp?.state_records_per_s ?? '-'} device states/s (${w1?.state_checkpoints ?? '-'} checkpoints in ${w1?.seconds ?? '-'} s) |
| (k4) publish-to-stored latency through gateway, jl.readings and 1 worker at ${lat?.rate ?? '-'} msg/s (half of ${lat?.sustained_msgs_per_s ?? '-'} = 1 / (1/(k1) + 1/(k2) one worker): the two processes share the machine), p50 / p99 | **${lat?.p50_ms ?? '-'} ms / ${lat?.p99_ms ?? '-'} ms** over ${lat?.counted ?? '-'} messages (target p99 < 250 ms) |
| (k4) each InfluxDB write of the worker, p50 / p99; CPU of gateway / worker | ${lat?.influx_write_p50_ms ?? '-'} / ${lat?.influx_write_p99_ms ?? '-'} ms over ${lat?.influx_writes ?? '-'} writes; ${pct(lat?.gateway_cpu_share)} / ${pct(lat?.worker_cpu_share)} of a core |
| (k4) where messages waited (largest of 1 s samples): unacked at the gateway; behind on jl.readings; in the worker, taken and not stored. Simulator's time for its ${lat ? lat.warmup_s + (lat.total / lat.rate - lat.warmup_s) : '-'} s of messages | ${lat?.max_gateway_pending ?? '-'}; ${lat?.max_worker_lag ?? '-'}; ${lat?.max_worker_pending ?? '-'}. ${lat?.simulator_seconds ?? '-'} s |`;

  const reading = !k
    ? 'This benchmarks.json predates the Kafka benchmark.'
    : [
        `**Gateway.** ${g!.ratio_to_single_process >= 3 ? 'The gateway meets the 3 x target.' : `The gateway misses the 3 x target: ${g!.ratio_to_single_process} x.`} Its CPU cost per message, ${g!.cpu_us_per_msg} µs, is what compares across machines: one core would give one gateway about ${Math.round(1e6 / g!.cpu_us_per_msg)} msg/s if nothing else needed it. Here nothing else has a core to spare: during (k1) mosquitto sends the backlog, the ${k.brokers} mock brokers (threads of the bench process, ${g!.bench_process_us_per_msg} µs per message) take the records with acks=all from 3 replicas, and the gateway does its work, all on ${machine.cores} cores, so the gateway ran at ${pct(g!.cpu_share_of_one_core)} of one core. The single process's cost, ≈ ${singleUs} µs per message, covers validation and detection and storage, so the gateway's stateless share of it is ${Math.round((g!.cpu_us_per_msg / singleUs) * 100)} % of the single process's, not a third. A CPU profile of one gateway draining 100,000 messages (node --cpu-prof, 2026-11-23, not part of this run) shows why: of its JavaScript thread's busy time, validation (JSON parse, schema, HMAC over canonical JSON, pseudonymisation) takes about 29 %, garbage collection 20 %, mqtt.js (packets in, PUBACKs out) 14 %, encoding and producing to Kafka 18 %, the runtime's bookkeeping 10 %. The first three the single process does too, per message, and they alone are more than a third of its cost: no gateway that still validates can reach 3 x on a per-process comparison. Gateways scale out instead: they share the MQTT subscription and hold no state, so each added gateway with a free core adds its own rate (not measurable on this machine, whose 2 cores already run mosquitto, the brokers and one gateway).`,
        `**Workers.** Two workers drained the same readings at ${k.workers.scaling} x the rate of one, counted once the group had settled. ${k.workers.scaling >= 1.8 ? `One worker alone ran at only ${pct(w1!.per_worker[0].cpu_share_of_one_core)} of a core, so it was not CPU-bound; the second worker used capacity the first left idle, and the figure says more about that than about scaling.` : 'Near-linear scaling needs a free core per added worker.'} This machine has ${machine.cores} cores, shared with influxd and the mock brokers, so more workers cannot scale further here. CPU per message is the portable figure: ${us(w1!.cpu_us_per_msg)} with one worker, ${us(w2!.cpu_us_per_msg)} averaged over two. Spreading the partitions took ${w2!.settle_seconds} s (the groups use the cooperative-sticky assignor: the first member keeps reading the partitions it keeps while the others move, in two rounds); ${w2!.stored_twice} readings were read and stored again (uncommitted when their partitions moved).`,
        `**Checkpointing.** With state checkpointed every ${cp!.every_ms} ms the worker spent ${us(cp!.on_cpu_us_per_msg)} per message, ${us(cp!.off_cpu_us_per_msg)} in the run meant to have checkpoints off; ${Math.abs(cp!.cpu_cost) < 0.1 ? `the difference (${(cp!.cpu_cost * 100).toFixed(1)} %) is within the run-to-run noise of this shared machine` : `the difference is ${(cp!.cpu_cost * 100).toFixed(1)} % of worker CPU`}. ${cp!.off.state_checkpoints > 0 ? `That run still wrote ${cp!.off.state_checkpoints} checkpoints: the worker also checkpoints before each offset commit (every kafka.commitEveryMs), so a large stateCheckpointMs alone does not turn checkpointing off; the comparison is not a clean one.` : ''} Checkpointing wrote ${Math.round(cp!.state_bytes_per_s / 1024)} KiB/s to jl.state (${cp!.state_records_per_s} device states/s, about ${Math.round(cp!.state_bytes_per_s / Math.max(1, cp!.state_records_per_s))} bytes of JSON each): the backlog touches every device each second.`,
        `**Latency.** ${lat!.p99_ms < 250 ? 'The Kafka topology meets p99 < 250 ms' : 'The Kafka topology misses p99 < 250 ms'} at ${lat!.rate} msg/s: a message crosses two more hops than in the single process (the gateway's produce with acks=all and linger.ms 5, the worker's fetch with fetch.wait.max.ms 10), then the same 50 ms InfluxDB batching. The simulator, mosquitto, the gateway, the mock brokers, the worker and influxd share the ${machine.cores} cores.`,
      ].join('\n\n');

  return `## Scale-out on Kafka
Same run, same machine, same fleet. A librdkafka mock cluster (${k?.brokers ?? '-'} brokers, hosted in the bench
process through librdkafka's C API, as \`jlpipe kafka mock\` does) with the topology's topics of ${k?.partitions ?? '-'}
partitions, replication 3; the run's mosquitto and influxd. Each role is its own process, started as
\`jlpipe start --role gateway|worker\` (Node with --max-semi-space-size=32).
(k1) and (k2) drain backlogs: the gateway the MQTT backlog queued for its shared-subscription session,
the workers the readings the gateway left on jl.readings (a fresh consumer group, jl.state topic and
database each run). Rates and CPU are taken between the first sample in which a process had finished a
message and the sample that saw the last one (every 50 ms from each role's /stats), so start-up and
joining the group are not counted. CPU per message is utime + stime of the process (every thread) from
/proc/<pid>/stat, divided by the messages it finished: it does not depend on how the cores were shared.
(k4) uses the single process's latency method (event time, set at publish, to the moment InfluxDB
acknowledged the batch), seen by a small HTTP proxy in front of influxd, since the worker is another
process; the first ${lat?.warmup_s ?? '-'} s at the rate are not counted.

${table}

${reading}
`;
}
