import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { onTestFinished } from 'vitest';
import { loadPipelineConfig, defaultConfigFile, type PipelineConfig } from '../../app/config.js';
import { makeFleet, registryYaml, type SimDevice } from '../../ingest/simulator/fleet.js';
import type { Simulator } from '../../ingest/simulator/simulator.js';
import { ServiceExited, waitUntil } from '../../services/process.js';
import type { DeadLetter } from '../../deadletter/record.js';
import { packageRoot } from '../../config/paths.js';
import { hashToken } from '../../server/auth.js';
import { uniqueName } from './services.js';

/** API tokens of the tests, one per role. */
export const TOKENS = { viewer: 'test-viewer-token', operator: 'test-operator-token', admin: 'test-admin-token' } as const;

export { waitUntil };

/** A pipeline config for a test: real services, its own database, data dir and client id. */
export function testConfig(opts: { mqttUrl: string; influxUrl: string; dataDir: string; devices?: string; catalogue?: string; db?: string }): PipelineConfig {
  const c = loadPipelineConfig(defaultConfigFile(), {});
  c.mqtt.url = opts.mqttUrl;
  c.mqtt.clientId = uniqueName('jlpipe');
  c.influx.url = opts.influxUrl;
  c.influx.database = opts.db ?? uniqueName('jl');
  c.influx.retries = 1;
  c.influx.retryMinMs = 50;
  c.spool.probeMs = 200;
  c.dataDir = opts.dataDir;
  c.http.port = 0;
  c.log.progressEverySec = 0;
  c.log.level = (process.env.JL_TEST_LOG ?? 'silent') as PipelineConfig['log']['level'];
  if (opts.devices) c.devices = opts.devices;
  if (opts.catalogue) c.catalogue = opts.catalogue;
  c.api.tokens = (Object.keys(TOKENS) as (keyof typeof TOKENS)[]).map((role) => ({ name: `test-${role}`, role, sha256: hashToken(TOKENS[role]) }));
  c.pseudonymKey = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
  return c;
}

export const testLogger = () => pino({ level: process.env.JL_TEST_LOG ?? 'silent' });

/** A small fleet (all kinds, all nine regions) written as a registry into `dir`. */
export function writeFleet(dir: string, count = 27, extra = ''): { file: string; fleet: SimDevice[] } {
  const fleet = makeFleet(count, 'test');
  const file = join(dir, 'devices.yaml');
  writeFileSync(file, registryYaml(fleet) + extra);
  return { file, fleet };
}

/** Publishes messages with QoS 1 from one client and waits for every PUBACK. */
export async function publishAll(url: string, messages: { topic: string; payload: string | Buffer }[]): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: uniqueName('pub'), clean: true });
  try {
    await Promise.all(messages.map((m) => client.publishAsync(m.topic, m.payload, { qos: 1 })));
  } catch (e) {
    await client.endAsync(true); // a failed publish must not leave the connection open
    throw e;
  }
  await client.endAsync();
}

/**
 * Runs `sim` (resolves when it is done). Call it inside a test: a simulator still publishing
 * when the test ends, e.g. after a failed assertion, is stopped then.
 */
export function simulate(sim: Simulator): Promise<void> {
  const done = sim.run();
  onTestFinished(async () => {
    sim.stop();
    // Its connection ends once it sees the stop; a broker that is down must not hold the hook.
    await Promise.race([done.catch(() => {}), new Promise((r) => setTimeout(r, 5000).unref())]);
  });
  return done;
}

/** Every dead letter written under a data dir. */
export function deadLetters(dataDir: string): DeadLetter[] {
  const dir = join(dataDir, 'dlq');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as DeadLetter));
}

/** GET a JSON endpoint of the pipeline's HTTP API, with a bearer token (viewer by default); name the body's type `T` or narrow it. */
export async function getJson<T = unknown>(port: number, path: string, token: string = TOKENS.viewer): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as T };
}

/** A request with a JSON body to the pipeline's HTTP API; name the answer's type `T` or narrow it. */
export async function sendJson<T = unknown>(port: number, method: string, path: string, body: unknown, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** A `jlpipe start` child process and what it reported on stdout. */
export interface PipelineChild {
  child: ChildProcess;
  /** The port its HTTP API bound (logged as "HTTP API listening"). */
  port: number;
  /** The embedded broker's URL, when the config names no broker. */
  brokerUrl?: string;
  /** Everything the child wrote to stdout so far: its JSON log, one record a line. */
  stdout: () => string;
}

/** The fields of a pipeline log record that tests read. */
interface LogRecord {
  msg?: string;
  port?: number;
  url?: string;
}

/** The records of a pino JSON log that parse (a line still being written does not). */
function logRecords(text: string): LogRecord[] {
  return text.split('\n').flatMap((line): LogRecord[] => {
    try {
      const r: unknown = JSON.parse(line);
      return r && typeof r === 'object' ? [r] : [];
    } catch {
      return [];
    }
  });
}

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

/**
 * Starts `jlpipe start -c cfg [...args]` (built dist/) as a child process; resolves once /readyz
 * is 200 on the port it bound. The config should let it pick its ports (`http: { port: 0 }`;
 * `mqtt: { url: null, embeddedPort: 0 }` for the embedded broker) and must log at `info` at
 * least: the ports are read from its JSON log on stdout. A restarted child binds new ports.
 * Call it inside a test: the child is SIGKILLed when the test ends, if it is still running.
 */
export async function spawnPipeline(cfg: string, args: string[] = []): Promise<PipelineChild> {
  const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
  const child = spawn(process.execPath, [cli, 'start', '-c', cfg, ...args], { env: { ...process.env, JL_MQTT_URL: '', JL_INFLUX_URL: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
  onTestFinished(async () => {
    if (!running(child)) return;
    const exited = exitOf(child);
    child.kill('SIGKILL');
    await exited;
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const logged = (msg: string) => logRecords(out).find((r) => r.msg === msg);
  const httpPort = () => logged('HTTP API listening')?.port;
  await waitUntil(async () => {
    if (!running(child)) throw new ServiceExited(`jlpipe start exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready`);
    const port = httpPort();
    return port !== undefined && (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
  }, 20_000, 'pipeline child ready (its "HTTP API listening" line on stdout, logged at info, then /readyz 200)');
  return { child, port: httpPort()!, brokerUrl: logged('no broker configured: embedded aedes broker started')?.url, stdout: () => out };
}

/** The exit code of a child process once it has exited (null after a signal). */
export const exitOf = (c: ChildProcess) => new Promise<number | null>((r) => (running(c) ? c.once('exit', (code) => r(code)) : r(c.exitCode)));

/**
 * Asks `/healthz` every `everyMs` until `stop()`, which resolves to the worst answer time in ms.
 * Each answer is timed from when the request was due, not from when it left: in a test that
 * hosts the pipeline in its own process, a blocked event loop delays the sending too.
 */
export function watchHealthz(port: number, everyMs = 20): { stop(): Promise<{ worstMs: number; answers: number }> } {
  let worstMs = 0;
  let answers = 0;
  let stopped = false;
  let due = performance.now();
  const loop = (async () => {
    while (!stopped) {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`);
      worstMs = Math.max(worstMs, performance.now() - due);
      answers++;
      due += everyMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else due = performance.now();
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { worstMs: Math.round(worstMs), answers };
    },
  };
}

/**
 * A pipeline.yaml for a child on nothing but the test's InfluxDB (database `db`): the embedded
 * broker and the HTTP API on port 0 (the child logs what it bound, at info), the packaged
 * catalogue and registry, data below `dir`.
 */
export function embeddedConfig(dir: string, influxUrl: string, db: string, log = 'log: { level: info }'): string {
  const file = join(dir, 'pipeline.yaml');
  writeFileSync(
    file,
    `catalogue: ${join(packageRoot(), 'config', 'catalogue', 'catalogue.yaml')}
devices: ${join(packageRoot(), 'config', 'devices.yaml')}
dataDir: ${join(dir, 'data')}
mqtt: { url: null, embeddedPort: 0 }
influx: { url: "${influxUrl}", database: ${db} }
http: { port: 0 }
${log}
`,
  );
  return file;
}
