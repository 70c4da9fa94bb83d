import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Pipeline } from '../app/pipeline.js';
import { loadCatalogue } from '../config/catalogue.js';
import { defaultConfigFile, loadPipelineConfig } from '../app/config.js';
import { packageRoot } from '../config/paths.js';
import { makeFleet, registryYaml } from '../ingest/simulator/fleet.js';
import { MessageFactory } from '../ingest/simulator/simulator.js';
import { validateAndTag } from '../processors/validate-and-tag.js';
import { LocalInfluxd } from '../services/influxd.js';
import { LocalMosquitto } from '../services/mosquitto.js';
import { waitUntil } from '../services/process.js';
import { toLine } from '../storage/influx/line-protocol.js';
import { V1Writer } from '../storage/influx/v1-writer.js';
import { loadRegistry } from '../config/devices.js';
import type { Reading } from '../core/types.js';
import { detectionMemory } from './detection-memory.js';
import { signatureCost, type SignatureCost } from './signature-cost.js';
import { pipelineMemory, type PipelineMemoryResult } from './pipeline-memory.js';
import { kafkaBench, kafkaMarkdown } from './kafka.js';
import { countAll, dropSession, log, percentile, prepareSession, publishBacklog, waitForIdle } from './shared.js';

export interface BenchOptions {
  outDir: string;
  messages: number;
  latencySeconds: number;
}

/** Seconds of each latency run at its rate before messages count (start-up, not steady state). */
const WARMUP_S = 5;

/** The latency run's breakdown as reported in benchmarks.json. */
const breakdownOf = (r: { receive_p99: number; write_p50: number; write_p99: number; writes: number }) => ({
  publish_to_received_p99_ms: r.receive_p99,
  influx_write_p50_ms: r.write_p50,
  influx_write_p99_ms: r.write_p99,
  influx_writes: r.writes,
});

/** (1) Raw drain: a bare mqtt.js QoS 1 subscriber empties a queued backlog. */
async function mqttDrain(url: string, messages: { topic: string; payload: string }[]): Promise<number> {
  const clientId = `bench-drain-${process.pid}`;
  await prepareSession(url, clientId);
  await publishBacklog(url, messages);
  let received = 0;
  let first = 0;
  const c = mqtt.connect(url, { clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600, receiveMaximum: 20000 } });
  const elapsed = await new Promise<number>((resolve) => {
    c.on('message', () => {
      if (received++ === 0) first = performance.now();
      if (received === messages.length) resolve((performance.now() - first) / 1000);
    });
  });
  await c.endAsync();
  await dropSession(url, clientId);
  return messages.length / elapsed;
}

/** (2) Raw InfluxDB ingest: pre-built line protocol in large batches, two writers at once. */
async function influxIngest(url: string, lines: string[]): Promise<number> {
  const writer = new V1Writer({ url, database: 'bench_raw', retentionPolicy: '', org: '', bucket: '', token: '', username: '', password: '', timeoutMs: 60_000, gzip: true });
  await writer.init();
  const batches: string[][] = [];
  for (let i = 0; i < lines.length; i += 5000) batches.push(lines.slice(i, i + 5000));
  const t0 = performance.now();
  let i = 0;
  const worker = async () => {
    while (i < batches.length) await writer.write(batches[i++]);
  };
  await Promise.all([worker(), worker()]);
  return lines.length / ((performance.now() - t0) / 1000);
}

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0];
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? '').trim().split('\n')[0] || 'unknown';
  }
}

/**
 * Runs the benchmarks of SPEC 11 in one run on this machine and writes BENCHMARKS.md and
 * benchmarks.json: raw MQTT drain, raw InfluxDB ingest, whole-pipeline throughput, latency at
 * half that rate, peak RSS. Resolves with the figures written to benchmarks.json.
 */
export async function runBenchmarks(o: BenchOptions) {
  const dir = join(tmpdir(), `jl-bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const mosquitto = await LocalMosquitto.start(join(dir, 'mosquitto'));
  const influxd = await LocalInfluxd.start(join(dir, 'influxdb'));
  try {
    const fleet = makeFleet(990, 'bench');
    const devices = join(dir, 'devices.yaml');
    writeFileSync(devices, registryYaml(fleet));
    const factory = new MessageFactory(fleet, 17);
    const now = Date.now() - 3_600_000;
    const make = (n: number) => Array.from({ length: n }, (_, i) => {
      const m = factory.next(now + Math.floor(i / 10));
      return { topic: m.topic, payload: JSON.stringify(m.payload) };
    });

    log(`(1) raw MQTT drain of ${o.messages} messages`);
    const drain = await mqttDrain(mosquitto.url, make(o.messages));
    log(`    ${Math.round(drain)} msg/s`);

    log('(2) raw InfluxDB ingest');
    const base = loadPipelineConfig(defaultConfigFile(), {});
    const catalogue = loadCatalogue(base.catalogue);
    const registry = loadRegistry(devices, catalogue);
    const ctx = { catalogue: () => catalogue, registry: () => registry, pseudonymKey: Buffer.alloc(32, 1), maxPayloadBytes: 65536, futureToleranceMs: 300_000 };
    const lines: string[] = make(o.messages * 2).map((m) => {
      const out = validateAndTag(ctx, { topic: m.topic, payload: Buffer.from(m.payload), receivedAt: Date.now() });
      if (!out.ok) throw new Error(out.rejection.detail);
      return toLine(out.reading);
    });
    const influxRate = await influxIngest(influxd.url, lines);
    log(`    ${Math.round(influxRate)} points/s`);

    /** The pipeline's config for a run; `detect` switches the anomaly processors. */
    const pipelineConfig = (detect: boolean, name: string) => {
      const c = loadPipelineConfig(defaultConfigFile(), {});
      Object.assign(c, { devices, dataDir: join(dir, `data-${name}`) });
      c.mqtt = { ...c.mqtt, url: mosquitto.url, clientId: `bench-${name}-${process.pid}` };
      c.influx = { ...c.influx, url: influxd.url, database: `bench_${name}` };
      c.http.port = 0;
      c.log = { level: 'warn', progressEverySec: 0 };
      c.pseudonymKey = '11'.repeat(32);
      c.detection.enabled = detect;
      return c;
    };
    log(`(3a) whole pipeline WITHOUT anomaly processors: backlog of ${o.messages} messages`);
    let noDetectRate = 0;
    {
      const c = pipelineConfig(false, 'nodetect');
      await prepareSession(mosquitto.url, c.mqtt.clientId);
      await publishBacklog(mosquitto.url, make(o.messages));
      let t0 = 0;
      const p = await Pipeline.start(c, { logger: pino({ level: 'warn' }) });
      p.source.client.once('message', () => (t0 = performance.now()));
      await waitUntil(() => p.ledger.totals().stored + p.ledger.totals().inSpool >= o.messages, 600_000, 'backlog stored', 20);
      noDetectRate = o.messages / ((performance.now() - t0) / 1000);
      await p.stop();
      await dropSession(mosquitto.url, c.mqtt.clientId);
      log(`    ${Math.round(noDetectRate)} msg/s`);
    }

    log(`(3) whole pipeline with every anomaly processor: backlog of ${o.messages} messages, publish -> stored`);
    const config = pipelineConfig(true, 'pipeline');
    await prepareSession(mosquitto.url, config.mqtt.clientId);
    await publishBacklog(mosquitto.url, make(o.messages));
    lines.length = 0; // the raw-ingest data must not count in the pipeline's memory
    (globalThis as { gc?: () => void }).gc?.();
    let peakRss = 0;
    const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    let first = 0;
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const pipeline = await Pipeline.start(config, { logger: pino({ level: 'warn' }) });
    pipeline.source.client.once('message', () => (first = performance.now()));
    await waitUntil(() => pipeline.ledger.totals().stored + pipeline.ledger.totals().inSpool >= o.messages, 600_000, 'backlog stored', 20);
    const pipelineRate = o.messages / ((performance.now() - first) / 1000);
    const cpu = process.cpuUsage(cpu0);
    const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - wall0);
    log(`    pipeline process CPU: ${(cpuShare * 100).toFixed(0)}% of one core`);
    const t = pipeline.ledger.totals();
    log(`    ${Math.round(pipelineRate)} msg/s (stored ${t.stored}, spooled ${t.inSpool}, dead-lettered ${t.deadLettered})`);

    const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
    const simCfg = join(dir, 'sim.yaml');
    writeFileSync(simCfg, `devices: ${devices}\ncatalogue: ${base.catalogue}\nlog: { level: warn }\n`);
    /**
     * Publish-to-stored latency with the simulator publishing `rate` msg/s in its own process.
     * The first WARMUP_S seconds at the new rate are not counted: the simulator's connection and
     * influxd's first writes into a new shard make a start-up burst, not the steady state.
     */
    const measureLatency = async (rate: number, seconds: number) => {
      log(`(4) latency at ${rate} msg/s for ${WARMUP_S} + ${seconds} s (simulator in its own process; the first ${WARMUP_S} s not counted)`);
      const latencies: number[] = [];
      const toReceive: number[] = [];
      const writeMs: number[] = [];
      let all = 0;
      const countFrom = Date.now() + WARMUP_S * 1000;
      const onStored = (readings: Reading[], at: number) => {
        all += readings.length;
        for (const r of readings) {
          if (r.eventMs < countFrom) continue;
          latencies.push(at - r.eventMs);
          toReceive.push(r.receivedAt - r.eventMs);
        }
      };
      // Where the time goes: how long each InfluxDB write takes.
      const onWrite = ({ ms }: { ms: number }) => {
        if (Date.now() >= countFrom) writeMs.push(Math.round(ms));
      };
      pipeline.runtime.on('stored', onStored);
      pipeline.runtime.on('write', onWrite);
      const count = rate * (WARMUP_S + seconds);
      await new Promise<void>((resolve, reject) => {
        const sim = spawn(process.execPath, [cli, 'simulate', '-c', simCfg, '--url', mosquitto.url, '--rate', String(rate), '--count', String(count), '--seed', String(rate)], { stdio: ['ignore', 'ignore', 'inherit'] });
        sim.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`simulator exited ${code}`))));
      });
      await waitUntil(() => all >= count, 60_000, 'latency run stored');
      pipeline.runtime.off('stored', onStored);
      pipeline.runtime.off('write', onWrite);
      for (const a of [latencies, toReceive, writeMs]) a.sort((x, y) => x - y);
      const r = { rate, p50: percentile(latencies, 50), p99: percentile(latencies, 99), n: latencies.length, total: count, receive_p99: percentile(toReceive, 99), write_p50: percentile(writeMs, 50), write_p99: percentile(writeMs, 99), writes: writeMs.length };
      log(`    p50 ${r.p50} ms, p99 ${r.p99} ms over ${r.n} messages; publish -> received p99 ${r.receive_p99} ms; InfluxDB writes p50 ${r.write_p50} ms, p99 ${r.write_p99} ms over ${r.writes}`);
      return r;
    };
    (globalThis as { gc?: () => void }).gc?.();
    log(`    heap after the backlog: ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MB, RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`);
    // Let influxd finish compacting the backlogs just written, so the latency runs see a steady state.
    const quietAfterS = await waitForIdle(influxd.pid, 0.1, 120_000);
    log(`    influxd idle after ${quietAfterS} s`);
    const quarter = await measureLatency(Math.round(pipelineRate / 4), o.latencySeconds);
    const half = await measureLatency(Math.round(pipelineRate / 2), o.latencySeconds);
    clearInterval(rssTimer);
    await pipeline.stop();

    const stored = await countAll(influxd.url, 'bench_pipeline');
    // Later messages must not queue for the stopped pipeline's persistent session.
    await dropSession(mosquitto.url, config.mqtt.clientId);

    const kafka = await kafkaBench({
      dir,
      mqttUrl: mosquitto.url,
      influxUrl: influxd.url,
      influxPid: influxd.pid,
      devices,
      catalogue: base.catalogue,
      simConfig: simCfg,
      make,
      messages: o.messages,
      singleProcessRate: Math.round(pipelineRate),
      latencySeconds: o.latencySeconds,
      warmupSeconds: WARMUP_S,
    });
    log('(5) memory of the anomaly processors\' state for 100,000 devices');
    const memory = detectionMemory(100_000);
    log(`    ${memory.stateMb} MB of state (${memory.bytesPerDevice} bytes per device), process RSS ${memory.rssMb} MB`);
    log('(6) the pipeline in its own process: 100,000 soil probes x 3 readings, RSS once all are stored');
    const processMemory = await pipelineMemory({ dir, mqttUrl: mosquitto.url, influxUrl: influxd.url });
    const signatures = measureSignatures(dir);
    const slower = Math.min(drain, influxRate);
    const result = {
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, mosquitto: version('mosquitto', ['-h']), influxd: version('influxd', ['version']) },
      messages: o.messages,
      mqtt_drain_msgs_per_s: Math.round(drain),
      influx_points_per_s: Math.round(influxRate),
      pipeline_msgs_per_s: Math.round(pipelineRate),
      pipeline_without_detection_msgs_per_s: Math.round(noDetectRate),
      detection_cost: Number((1 - pipelineRate / noDetectRate).toFixed(3)),
      detection_memory: memory,
      pipeline_memory: processMemory,
      signature_cost: signatures,
      anomalies_during_run: pipeline.detection.stats().anomalies,
      ratio_to_slower_limit: Number((pipelineRate / slower).toFixed(3)),
      latency_rate_msgs_per_s: half.rate,
      latency_p50_ms: half.p50,
      latency_p99_ms: half.p99,
      latency_quarter_rate_msgs_per_s: quarter.rate,
      latency_quarter_p50_ms: quarter.p50,
      latency_quarter_p99_ms: quarter.p99,
      latency_breakdown: { half: breakdownOf(half), quarter: breakdownOf(quarter) },
      rss_mb: Math.round(peakRss / 2 ** 20),
      pipeline_cpu_share_of_one_core: Number(cpuShare.toFixed(2)),
      stored_points_checked: stored,
      expected_points: o.messages + half.total + quarter.total,
      influxd_idle_wait_s: quietAfterS,
      latency_warmup_s: WARMUP_S,
      kafka,
    };
    mkdirSync(o.outDir, { recursive: true });
    writeFileSync(join(o.outDir, 'benchmarks.json'), JSON.stringify(result, null, 2) + '\n');
    writeFileSync(join(o.outDir, 'BENCHMARKS.md'), markdown(result));
    log(`wrote ${join(o.outDir, 'BENCHMARKS.md')}`);
    console.log(JSON.stringify(result, null, 2));
    return result;
  } finally {
    await mosquitto.stop();
    await influxd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The figures of one run, as runBenchmarks writes them to benchmarks.json. */
export type BenchResult = Awaited<ReturnType<typeof runBenchmarks>>;

/** Figures benchmarks.json gained after its first runs: a file of an earlier run lacks them. */
type AddedLater = 'pipeline_without_detection_msgs_per_s' | 'detection_cost' | 'detection_memory' | 'pipeline_memory' | 'signature_cost' | 'anomalies_during_run' | 'latency_breakdown' | 'influxd_idle_wait_s' | 'latency_warmup_s' | 'kafka';

/** A benchmarks.json of this run or of an earlier one (what `jlpipe bench --report-only` reads). */
export type BenchReport = Omit<BenchResult, AddedLater> & Partial<Pick<BenchResult, AddedLater>>;

/**
 * Runs only (6) and writes its figures into the benchmarks.json in `outDir` (of an earlier full
 * run), then BENCHMARKS.md from the whole file.
 */
export async function runMemoryOnly(outDir: string): Promise<PipelineMemoryResult> {
  const dir = join(tmpdir(), `jl-bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const mosquitto = await LocalMosquitto.start(join(dir, 'mosquitto'));
  const influxd = await LocalInfluxd.start(join(dir, 'influxdb'));
  try {
    log('(6) the pipeline in its own process: 100,000 soil probes x 3 readings, RSS once all are stored');
    const processMemory = await pipelineMemory({ dir, mqttUrl: mosquitto.url, influxUrl: influxd.url });
    const file = join(outDir, 'benchmarks.json');
    const report = { ...(JSON.parse(readFileSync(file, 'utf8')) as BenchReport), pipeline_memory: processMemory };
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
    writeFileSync(join(outDir, 'BENCHMARKS.md'), markdown(report));
    log(`wrote ${file} and BENCHMARKS.md`);
    return processMemory;
  } finally {
    await mosquitto.stop();
    await influxd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** (7): ingest's CPU per message with each signature scheme, logged. */
function measureSignatures(dir: string): SignatureCost {
  log('(7) ingest CPU per keyed meter message: wire contract v1 (canonical JSON) against v2 (the bytes as sent)');
  const c = signatureCost(dir);
  log(`    v1 ${c.v1Us} us, v2 ${c.v2Us} us, unsigned ${c.unsignedUs} us per message`);
  return c;
}

/**
 * Runs only (7) and writes its figures into the benchmarks.json in `outDir` (of an earlier full
 * run), then BENCHMARKS.md from the whole file.
 */
export function runSignaturesOnly(outDir: string): SignatureCost {
  const dir = join(tmpdir(), `jl-bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const c = measureSignatures(dir);
    const file = join(outDir, 'benchmarks.json');
    const report = { ...(JSON.parse(readFileSync(file, 'utf8')) as BenchReport), signature_cost: c };
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
    writeFileSync(join(outDir, 'BENCHMARKS.md'), markdown(report));
    return c;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function signatureRow(c: (Omit<SignatureCost, 'date'> & { date?: string }) | undefined): string {
  if (!c) return '| (7) ingest CPU per keyed message, signature v1 against v2 | not measured |\n';
  return `| (7) ingest CPU per keyed meter message (validate and tag, one process, the same payloads, best of 5 x ${c.messages.toLocaleString('en')}): signature v1 (canonical JSON) / v2 (the bytes as sent) / unsigned | **${c.v1Us} / ${c.v2Us} / ${c.unsignedUs} us**: v2 costs ${Math.round((c.v2Us / c.v1Us) * 100)} % of v1${c.date ? ` (measured ${c.date.slice(0, 10)})` : ''} |\n`;
}

/** The row of (6), the pipeline process's memory and its throughput with and without detection. */
function processMemoryRows(m: PipelineMemoryResult | undefined): string {
  if (!m) return '| (6) RSS of the pipeline process, 100,000 devices, every processor on | not measured |\n';
  const cost = Math.abs(m.detectionCost) < 0.1 ? `within 10 % (${(m.detectionCost * 100).toFixed(1)} %)` : `**${(m.detectionCost * 100).toFixed(1)} %** lower`;
  return (
    `| (6) RSS of the pipeline process (\`${['node', m.nodeFlags, 'dist/cli/jlpipe.js start'].filter(Boolean).join(' ')}\`), ${m.devices.toLocaleString('en')} soil probes, every anomaly processor on, once all ${(m.devices * m.readingsPerDevice).toLocaleString('en')} readings are stored | **${m.on.rssMb} MB** (target < 500 MB); peak ${m.on.peakRssMb} MB; V8 heap ${m.on.heapUsedMb} MB used of ${m.on.heapTotalMb} MB, outside the heap (buffers, typed arrays) ${m.on.externalMb} MB |\n` +
    `| (6a) the same with the anomaly processors off | ${m.off.rssMb} MB (peak ${m.off.peakRssMb} MB) |\n` +
    `| (6b) drain rate of that backlog, processors on / off (same run${m.runs ? `, mean of ${m.runs.length / 2} alternating pairs: ${m.runs.map((r) => `${r.detection ? 'on' : 'off'} ${r.msgsPerS}`).join(', ')}` : ''}) | **${m.on.msgsPerS} / ${m.off.msgsPerS} msg/s**: with detection ${cost} (target: within 10 %) |\n`
  );
}

/** BENCHMARKS.md from the figures of one run. */
/**
 * What (3a) against (3) says. The same measure differed by 10-25 % between two runs on this shared machine,
 * so a difference smaller than that is reported as noise, not as a cost.
 */
function detectionCost(cost: BenchReport['detection_cost'], bold: boolean): string {
  if (cost === undefined) return 'not measured';
  const pct = `${(cost * 100).toFixed(1)} %`;
  if (Math.abs(cost) < 0.1) return `the difference (${pct}) is within the run-to-run noise of this shared machine (the same measure differed by 10-25 % between two runs on 2026-11-22)`;
  if (cost < 0) return `the run with detection was ${(-cost * 100).toFixed(1)} % faster: run-to-run noise of this shared machine, not a gain`;
  return `detection costs ${bold ? `**${pct}**` : pct} of throughput`;
}

/** One latency breakdown for the table. */
const breakdown = (b?: ReturnType<typeof breakdownOf>) =>
  b ? `received ${b.publish_to_received_p99_ms} ms, writes ${b.influx_write_p50_ms} / ${b.influx_write_p99_ms} ms` : '-';

/** Why the latency bar is missed, from the breakdown of the same run. */
function latencyMiss(r: BenchReport): string {
  const b = r.latency_breakdown?.half;
  const head = 'Latency misses the p99 < 250 ms bar at half the sustained rate.';
  if (!b) return `${head} At that load the simulator, broker, pipeline and InfluxDB together need more than the two cores.`;
  const where =
    b.publish_to_received_p99_ms >= b.influx_write_p99_ms
      ? `Most of the tail comes before storage: publish -> received has a p99 of ${b.publish_to_received_p99_ms} ms. That span covers the simulator, the broker, and any time the pipeline's own thread is too busy to read its socket (the receive time is taken when the message handler runs). InfluxDB writes take ${b.influx_write_p50_ms} ms at the median and ${b.influx_write_p99_ms} ms at p99.`
      : `Messages reach the pipeline quickly (publish -> received p99 ${b.publish_to_received_p99_ms} ms), but an InfluxDB write takes ${b.influx_write_p50_ms} ms at the median and ${b.influx_write_p99_ms} ms at p99. With 2 writes in flight and a batch every 50 ms, a slow write holds the batches behind it, so InfluxDB's write tail, plus the queue it causes, becomes the latency tail.`;
  return `${head} The breakdown (4c) shows where the time goes. ${where} All four processes share the machine's ${r.machine.cores} cores. The tail also varies a lot from run to run here: separate runs of the same load against a fresh influxd gave latency p99s from 90 to 780 ms.`;
}

export function markdown(r: BenchReport): string {
  const slower = Math.min(r.mqtt_drain_msgs_per_s, r.influx_points_per_s);
  const limit = r.mqtt_drain_msgs_per_s <= r.influx_points_per_s ? 'the raw MQTT drain' : 'raw InfluxDB ingest';
  return `# Benchmarks

Produced by \`npm run bench\` (\`jlpipe bench\`) on ${r.date.slice(0, 10)}; every figure below comes from
the same run on the same machine. Raw figures: \`docs/benchmarks.json\`.

**Machine:** ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, Node ${r.machine.node};
${r.machine.mosquitto}; ${r.machine.influxd} (Debian packages, private instances on loopback).

| measure | result |
|---|---|
| (1) raw MQTT drain: a bare mqtt.js QoS 1 subscriber empties a queued backlog of ${r.messages} messages | **${r.mqtt_drain_msgs_per_s} msg/s** |
| (2) raw InfluxDB ingest: pre-built line protocol, 5000-point gzipped batches, 2 writers | **${r.influx_points_per_s} points/s** |
| (3) whole pipeline (parse, validate, verify HMAC, tag, pseudonymise, detect, count its own statistics, write, PUBACK) on the same backlog | **${r.pipeline_msgs_per_s} msg/s** |
| (3a) the same with the anomaly processors switched off | ${r.pipeline_without_detection_msgs_per_s ?? '-'} msg/s: ${detectionCost(r.detection_cost, true)} |
| (5) state of all ten anomaly processors for ${r.detection_memory?.devices ?? '-'} devices (${r.detection_memory?.messages ?? '-'} messages through ingest and detection) | **${r.detection_memory?.stateMb ?? '-'} MB** (heap and typed-array buffers the engine retains), ${r.detection_memory?.bytesPerDevice ?? '-'} bytes per device (target: 100,000 devices in under 500 MB). RSS of the measuring process, which also holds the simulator making the traffic and the 100,000-device registry: ${r.detection_memory?.rssMb ?? '-'} MB |
| pipeline / slower raw limit (${limit}, ${slower}/s) | **${(r.ratio_to_slower_limit * 100).toFixed(1)} %** (target >= 80 %) |
| (4) publish-to-stored latency at ${r.latency_rate_msgs_per_s} msg/s (half of (3)), p50 / p99 | **${r.latency_p50_ms} ms / ${r.latency_p99_ms} ms** (target p99 < 250 ms) |
| (4b) the same at ${r.latency_quarter_rate_msgs_per_s} msg/s (a quarter of (3)), p50 / p99 | ${r.latency_quarter_p50_ms} ms / ${r.latency_quarter_p99_ms} ms |
| (4c) where the time goes: publish -> received by the pipeline, p99; each InfluxDB write, p50 / p99 | half rate: ${breakdown(r.latency_breakdown?.half)}; quarter rate: ${breakdown(r.latency_breakdown?.quarter)} |
| CPU of the pipeline process during (3) | ${Math.round(r.pipeline_cpu_share_of_one_core * 100)} % of one core |
${processMemoryRows(r.pipeline_memory)}${signatureRow(r.signature_cost)}| peak RSS of the benchmark process, which hosts the pipeline (and the benchmark's own buffers) | **${r.rss_mb} MB** |
| points counted in InfluxDB after the run / expected | ${r.stored_points_checked} / ${r.expected_points} |

How it is measured:
- Every run uses the same messages: the simulator's fleet of 990 devices over the four sectors and
  nine regions, all seven message types, HMAC-signed where the device has a key (V2X, meters, machines).
- (1) and (3) drain a backlog queued in mosquitto for a persistent session, timed from the first message
  received to the last one received (1) or stored in InfluxDB and acknowledged (3), so both measure the
  consuming side at full speed with the broker doing the same work.
- (4) runs the simulator in its own process at a quarter, then half of (3), once influxd has finished
  compacting the backlogs (under 10 % of a core over 2 s; it took ${r.influxd_idle_wait_s ?? '-'} s). The first
  ${r.latency_warmup_s ?? '-'} s at each rate are not counted (the simulator's connection and influxd's first
  writes into a new shard make a start-up burst). Latency is from the message's event time (set at publish) to the moment its
  batch is acknowledged by InfluxDB. Batching: 5000 points or 50 ms, 2 writes in flight. All four
  processes (simulator, broker, pipeline, InfluxDB) share the machine's ${r.machine.cores} cores.
- (1) and (3a) end their persistent sessions when done. Runs before 2026-11-23 left them behind, so
  mosquitto queued every later message for them and saved the growing queue to disk every second;
  that stalled the broker and put most of the 0.8-1.9 s p99 of those runs' latency figures.
- (6) measures memory as an outside check does: \`jlpipe start\` alone in its own process (the Node
  flags of \`npm start\`), a registry of 100,000 soil probes, 3 readings from each queued in mosquitto
  for its session, every anomaly processor on, and the process's whole RSS (VmRSS in /proc) once all
  300,000 are stored in InfluxDB; V8's heap and external memory come from its /metrics. The same
  backlog drained with the processors off, then on, twice over, gives (6b): the mean of each, since
  one pair alone differs by up to 20 % from run to run, in either direction.
- Latency and throughput come from benchmarks, never from timed assertions in tests.

## The cost of detection
(3a) and (3) drain the same backlog, once with the anomaly processors off and once with all ten
on: ${detectionCost(r.detection_cost, false)}. The benchmark's backlog is
not quiet traffic: 200,000 messages from 990 devices packed into a few seconds of event time
look like a flood, and the separate simulator runs of (4) restart every meter's counter, so the
processors raised ${Object.entries(r.anomalies_during_run ?? {}).map(([k, v]) => `${v} ${k}`).join(', ') || 'no'} anomalies,
merged into incidents (hash-chained log, InfluxDB points) while measuring. The figure therefore
includes incident handling under load. The processors' memory, (5), is what they hold for
100,000 devices after three messages of each type (a 3-round warm-up of every state); the process
RSS next to it also holds the simulator that generated the traffic and the registry.

## Against the targets
${r.ratio_to_slower_limit >= 0.8 ? 'Throughput meets the 80 % bar.' : `Throughput is below the 80 % bar: the pipeline process runs at ${Math.round(r.pipeline_cpu_share_of_one_core * 100)} % of one core, so it is bound by its single JavaScript thread. A CPU profile of (3) puts most of that thread in JSON parsing and schema validation, HMAC verification with canonical JSON, line-protocol encoding with the client's Point, and garbage collection; mqtt.js packet handling and the HTTP writes take the rest. The raw limits do none of that work.`}

${r.latency_p99_ms < 250 ? 'Latency meets the p99 < 250 ms bar at half the sustained rate.' : latencyMiss(r)}

${kafkaMarkdown(r.kafka, r.machine, { msgsPerS: r.pipeline_msgs_per_s, cpuShare: r.pipeline_cpu_share_of_one_core })}`;
}
