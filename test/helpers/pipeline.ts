import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { loadPipelineConfig, defaultConfigFile, type PipelineConfig } from '../../app/config.js';
import { makeFleet, registryYaml, type SimDevice } from '../../ingest/simulator/fleet.js';
import { waitUntil } from '../../services/process.js';
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
  await Promise.all(messages.map((m) => client.publishAsync(m.topic, m.payload, { qos: 1 })));
  await client.endAsync();
}

/** Every dead letter written under a data dir. */
export function deadLetters(dataDir: string): DeadLetter[] {
  const dir = join(dataDir, 'dlq');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as DeadLetter));
}

/** GET a JSON endpoint of the pipeline's HTTP API, with a bearer token (viewer by default). */
export async function getJson<T = any>(port: number, path: string, token: string = TOKENS.viewer): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as T };
}

/** A request with a JSON body to the pipeline's HTTP API. */
export async function sendJson<T = any>(port: number, method: string, path: string, body: unknown, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Starts `jlpipe start -c cfg` (built dist/) as a child process; resolves once /readyz is 200. */
export async function spawnPipeline(cfg: string, httpPort: number): Promise<ChildProcess> {
  const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
  const child = spawn(process.execPath, [cli, 'start', '-c', cfg], { env: { ...process.env, JL_MQTT_URL: '', JL_INFLUX_URL: '' }, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200, 20_000, 'pipeline child ready');
  return child;
}

/** The exit code of a child process, once it has exited. */
export const exitOf = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));
