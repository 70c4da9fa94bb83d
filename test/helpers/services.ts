import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalInfluxd } from '../../services/influxd.js';
import { LocalMosquitto } from '../../services/mosquitto.js';

/**
 * Real services for a test file: a private mosquitto and influxd on free loopback ports in a
 * temp dir, started here and stopped by `stop()`. JL_MQTT_URL / JL_INFLUX_URL point the tests
 * at existing servers instead. A missing server binary is installed from Debian (as root) or
 * fails the test loudly.
 */
export interface Services {
  mqttUrl: string;
  influxUrl: string;
  mosquitto?: LocalMosquitto;
  influxd?: LocalInfluxd;
  dir: string;
  stop(): Promise<void>;
}

/** Folders made by tempDir() in this test file, removed once the file is done (cleanUpTestFile). */
const tempDirs: string[] = [];

/**
 * A new empty folder under the system temp dir. It is removed after the test file's own hooks
 * have run (cleanUpTestFile), so services and pipelines stopped in those hooks are done with it.
 */
export function tempDir(prefix = 'jl-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Services started in this test file and not stopped yet. */
const startedServices = new Set<Services>();

/**
 * Runs every step in turn, each also when an earlier one failed, then throws the first failure:
 * for hooks that stop several things (vitest skips the afterAll hooks after one that throws).
 */
export async function stopEach(...steps: (() => unknown)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (e) {
      failures.push(e);
    }
  }
  if (failures.length) throw failures[0];
}

/**
 * Run by test/setup.ts after each test file, after the file's own hooks: stops services that a
 * failed hook left running, then removes every folder tempDir() made.
 */
export async function cleanUpTestFile(): Promise<void> {
  await stopEach(...[...startedServices].map((s) => () => s.stop()), () => {
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
}

export async function startServices(): Promise<Services> {
  const dir = tempDir('jl-services-');
  const mosquitto = process.env.JL_MQTT_URL ? undefined : await LocalMosquitto.start(join(dir, 'mosquitto'));
  let influxd: LocalInfluxd | undefined;
  try {
    influxd = process.env.JL_INFLUX_URL ? undefined : await LocalInfluxd.start(join(dir, 'influxdb'));
  } catch (e) {
    // Nothing is returned to stop it: a mosquitto started for a failed start is stopped here.
    await mosquitto?.stop();
    throw e;
  }
  const services: Services = {
    mqttUrl: process.env.JL_MQTT_URL ?? mosquitto!.url,
    influxUrl: process.env.JL_INFLUX_URL ?? influxd!.url,
    mosquitto,
    influxd,
    dir,
    async stop() {
      startedServices.delete(services);
      await stopEach(
        () => mosquitto?.stop(),
        () => influxd?.stop(),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
  startedServices.add(services);
  return services;
}

let counter = 0;
/** A name no other test run uses (databases, client ids). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
}

/**
 * Real services for the enclosing describe block: started before its tests, stopped after.
 * The returned object is filled in by the beforeAll hook, so read it inside tests and hooks.
 */
export function useServices(): Services {
  const svc = {} as Services;
  beforeAll(async () => {
    Object.assign(svc, await startServices());
  });
  afterAll(async () => {
    // Unset when beforeAll failed: startServices() then stopped what it had started.
    await (svc as Partial<Services>).stop?.();
  });
  return svc;
}
