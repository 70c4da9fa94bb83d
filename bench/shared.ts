import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { publishInOrder } from '../ingest/simulator/publish.js';

/** Progress of a benchmark run, on stderr. */
export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

/** The measurements the simulator's fleet writes (every reading lands in one of them). */
export const MEASUREMENTS = ['agri_soil', 'agri_weather', 'v2x_bsm', 'v2x_rsu_status', 'energy_meter', 'energy_heat', 'iiot_machine'];

/** USER_HZ on Linux: the unit of utime and stime in /proc/<pid>/stat. */
const HZ = 100;

/** CPU seconds (user + system, every thread) process `pid` has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0) / HZ;
}

/**
 * Waits until process `pid` uses under `share` of a core over 2 s (from /proc), at most
 * `timeoutMs`; returns the seconds waited.
 */
export async function waitForIdle(pid: number | undefined, share: number, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  if (pid === undefined) return 0;
  for (;;) {
    const a = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 2000));
    if ((cpuSeconds(pid) - a) / 2 < share || Date.now() - t0 > timeoutMs) return Math.round((Date.now() - t0) / 1000);
  }
}

/** Publishes messages with QoS 1, keeping at most `window` unacknowledged; progress on stderr. */
export const publishBacklog = (url: string, messages: { topic: string; payload: string }[], window = 2000) =>
  publishInOrder(url, messages, { window, clientId: `bench-pub-${process.pid}`, protocolVersion: 5, progressEvery: 50_000, onProgress: (n) => log(`  published ${n}/${messages.length}`) });

/** A persistent session subscribed to `topic`, so the broker queues what is published for it. */
export async function prepareSession(url: string, clientId: string, topic = 'jl/#'): Promise<void> {
  const c = await mqtt.connectAsync(url, { clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
  await c.subscribeAsync(topic, { qos: 1 });
  await c.endAsync();
}

/**
 * Ends a persistent session: left behind, mosquitto would queue every later message of the run
 * for it and save that growing queue to disk every second (autosave_interval 1), slowing the
 * broker for the measurements that follow.
 */
export async function dropSession(url: string, clientId: string): Promise<void> {
  const c = await mqtt.connectAsync(url, { clientId, clean: true, protocolVersion: 5, properties: { sessionExpiryInterval: 0 } });
  await c.endAsync();
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Points of the fleet's measurements in database `db`. */
export async function countAll(url: string, db: string): Promise<number> {
  let n = 0;
  for (const m of MEASUREMENTS) {
    const u = new URL('/query', url);
    u.searchParams.set('db', db);
    u.searchParams.set('q', `SELECT count("seq") FROM "${m}"`);
    const body = (await (await fetch(u)).json()) as { results: { series?: { values: number[][] }[] }[] };
    n += body.results[0].series?.[0].values[0][1] ?? 0;
  }
  return n;
}
