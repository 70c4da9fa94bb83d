import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../config/paths.js';
import { freePort } from '../services/ports.js';
import { waitUntil } from '../services/process.js';
import { dropSession, log, prepareSession, publishBacklog } from './shared.js';

/**
 * The Node flags the pipeline runs with (`npm start`, the Dockerfile, the CLI's shebang: none);
 * JL_BENCH_NODE_FLAGS (space-separated) tries others. --max-semi-space-size=32, which they had,
 * cost about 48 MB of RSS with 100,000 devices and no throughput this section could see
 * (7,158 / 11,035 msg/s on / off with it, 7,092 / 10,969 without, 2026-11-24).
 */
export const PIPELINE_NODE_FLAGS = [...(process.env.JL_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), ...(process.env.JL_BENCH_HEAP_SNAPSHOTS ? ['--heapsnapshot-signal=SIGUSR2'] : [])];

/**
 * JL_BENCH_HEAP_SNAPSHOTS=dir: a heap snapshot of each run's pipeline once all is stored, written
 * there as mem-on.heapsnapshot and mem-off.heapsnapshot (for finding where memory goes; the
 * snapshot itself takes a while and about the heap's size again).
 */
const HEAP_SNAPSHOTS = process.env.JL_BENCH_HEAP_SNAPSHOTS;

/** Asks the pipeline (started with --heapsnapshot-signal=SIGUSR2) for a heap snapshot and moves it to `to`. */
async function heapSnapshot(pid: number, cwd: string, to: string): Promise<void> {
  process.kill(pid, 'SIGUSR2');
  let file = '';
  let size = -1;
  await waitUntil(
    () => {
      const found = readdirSync(cwd).find((f) => f.endsWith('.heapsnapshot'));
      if (!found) return false;
      const now = statSync(join(cwd, found)).size;
      const done = now > 0 && now === size;
      size = now;
      file = found;
      return done;
    },
    600_000,
    'heap snapshot written',
    2000,
  );
  renameSync(join(cwd, file), to);
  log(`    heap snapshot: ${to}`);
}

/** Pairs of runs (off, then on). */
const PAIRS = Number(process.env.JL_BENCH_MEMORY_PAIRS ?? 2);

const REGIONS = ['220100', '220200', '220300', '220400', '220500', '220600', '220700', '220800', '222400'];
const mb = (kb: number) => Math.round(kb / 1024);

/** One pipeline process's run: throughput, and its memory once every reading is stored. */
export interface ProcessRun {
  detection: boolean;
  msgsPerS: number;
  /** VmRSS of the pipeline process once every reading is stored, MB. */
  rssMb: number;
  /** VmHWM: the process's peak RSS during the run, MB. */
  peakRssMb: number;
  /** V8 heap in use and reserved, and memory outside the heap (buffers, typed arrays), MB (from /metrics). */
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

export interface PipelineMemoryResult {
  devices: number;
  readingsPerDevice: number;
  nodeFlags: string;
  /** The runs with the processors off and on; msgsPerS is their mean, memory the last run's. */
  off: ProcessRun;
  on: ProcessRun;
  /** Each run's drain rate, in the order run: off, on, off, on. */
  runs?: { detection: boolean; msgsPerS: number }[];
  /** 1 - on / off mean throughput: the cost of detection for this fleet. */
  detectionCost: number;
}

/** The registry of `n` agricultural soil probes, in the one-line form the loader reads fast. */
function soilRegistry(n: number): { id: string; region: string }[] {
  return Array.from({ length: n }, (_, i) => ({ id: `soil-${REGIONS[i % REGIONS.length]}-${String(i).padStart(6, '0')}`, region: REGIONS[i % REGIONS.length] }));
}

/** Sums a metric's samples (all label sets) in Prometheus text. */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

function procStatus(pid: number): { rssKb: number; hwmKb: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

/**
 * SPEC 11's memory bar as an outside check measures it: the pipeline alone in its own process
 * (`jlpipe start`, the Node flags of `npm start`), a registry of `devices` soil probes, every
 * anomaly processor on, `rounds` readings from each device, and the process's whole RSS (VmRSS
 * from /proc) once all of them are stored in InfluxDB. The readings are queued in mosquitto for
 * the pipeline's persistent session first, so the same run also gives the drain rate: once with
 * the anomaly processors off, once on, one after the other on the same machine.
 */
export async function pipelineMemory(o: { dir: string; mqttUrl: string; influxUrl: string; devices?: number; rounds?: number }): Promise<PipelineMemoryResult> {
  const devices = o.devices ?? 100_000;
  const rounds = o.rounds ?? 3;
  const fleet = soilRegistry(devices);
  const registry = join(o.dir, 'memory-devices.yaml');
  writeFileSync(registry, fleet.map((d) => `- { id: ${d.id}, sector: agri, region: "${d.region}", types: [ soil ] }`).join('\n') + '\n');
  const start = Date.now() - rounds * 600_000;
  const messages: { topic: string; payload: string }[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [i, d] of fleet.entries()) {
      // Every 10 minutes (the soil probes' update cycle), values that move a little.
      const data = { moisture: 30 + (i % 7), temperature: 12 + (i % 5) / 10 + r / 10, ec: 500 + (i % 11), ph: 6.5, n: 120, p: 30, k: 150 };
      messages.push({ topic: `jl/agri/${d.region}/${d.id}/soil`, payload: JSON.stringify({ ts: start + r * 600_000 + Math.floor(i / 100), seq: r + 1, data }) });
    }
  }

  const run = async (detection: boolean): Promise<ProcessRun> => {
    const name = detection ? 'mem-on' : 'mem-off';
    const clientId = `bench-${name}-${process.pid}`;
    const port = await freePort();
    const config = join(o.dir, `${name}.yaml`);
    writeFileSync(
      config,
      [
        `catalogue: ${join(packageRoot(), 'config', 'catalogue', 'catalogue.yaml')}`,
        `devices: ${registry}`,
        `dataDir: ${join(o.dir, `data-${name}`)}`,
        `mqtt: { url: "${o.mqttUrl}", clientId: ${clientId} }`,
        `influx: { url: "${o.influxUrl}", database: bench_${name.replace('-', '_')} }`,
        `http: { port: ${port}, host: 127.0.0.1 }`,
        'log: { level: warn, progressEverySec: 0 }',
        `pseudonymKey: "${'11'.repeat(32)}"`,
        `detection: { enabled: ${detection} }`,
        '',
      ].join('\n'),
    );
    await prepareSession(o.mqttUrl, clientId);
    log(`(6) ${detection ? 'with' : 'without'} anomaly processors: queueing ${messages.length} readings of ${devices} soil probes`);
    await publishBacklog(o.mqttUrl, messages);
    const child = spawn(process.execPath, [...PIPELINE_NODE_FLAGS, join(packageRoot(), 'dist', 'cli', 'jlpipe.js'), 'start', '-c', config], { cwd: o.dir, stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      let text = '';
      const scrape = async () => {
        try {
          text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return true;
        } catch {
          return false;
        }
      };
      let first = 0;
      await waitUntil(
        async () => {
          if (child.exitCode !== null) throw new Error(`pipeline exited ${child.exitCode}`);
          if (!(await scrape())) return false;
          if (!first && metric(text, 'jl_messages_received_total') > 0) first = performance.now();
          return metric(text, 'jl_messages_stored_total') >= messages.length;
        },
        900_000,
        'every reading stored',
        100,
      );
      const msgsPerS = Math.round(messages.length / ((performance.now() - first) / 1000));
      const { rssKb, hwmKb } = procStatus(child.pid!);
      await scrape();
      const r: ProcessRun = {
        detection,
        msgsPerS,
        rssMb: mb(rssKb),
        peakRssMb: mb(hwmKb),
        heapUsedMb: Math.round(metric(text, 'nodejs_heap_size_used_bytes') / 2 ** 20),
        heapTotalMb: Math.round(metric(text, 'nodejs_heap_size_total_bytes') / 2 ** 20),
        externalMb: Math.round(metric(text, 'nodejs_external_memory_bytes') / 2 ** 20),
      };
      log(`    ${msgsPerS} msg/s; RSS ${r.rssMb} MB once all stored (peak ${r.peakRssMb} MB); heap ${r.heapUsedMb} / ${r.heapTotalMb} MB, external ${r.externalMb} MB`);
      if (HEAP_SNAPSHOTS) await heapSnapshot(child.pid!, o.dir, join(HEAP_SNAPSHOTS, `${name}.heapsnapshot`));
      return r;
    } finally {
      child.kill('SIGTERM');
      await exited;
      await dropSession(o.mqttUrl, clientId);
    }
  };

  // Off and on alternate, twice: one pair's drain rates differ by up to 20 % from run to run on
  // a shared 2-core machine, in either direction, which is more than the cost measured.
  const runs: ProcessRun[] = [];
  for (let pair = 0; pair < PAIRS; pair++) for (const detection of [false, true]) runs.push(await run(detection));
  const of = (detection: boolean) => {
    const these = runs.filter((r) => r.detection === detection);
    return { ...these[these.length - 1], msgsPerS: Math.round(these.reduce((a, r) => a + r.msgsPerS, 0) / these.length) };
  };
  const off = of(false);
  const on = of(true);
  return {
    devices,
    readingsPerDevice: rounds,
    nodeFlags: PIPELINE_NODE_FLAGS.join(' '),
    off,
    on,
    runs: runs.map((r) => ({ detection: r.detection, msgsPerS: r.msgsPerS })),
    detectionCost: Number((1 - on.msgsPerS / off.msgsPerS).toFixed(3)),
  };
}
