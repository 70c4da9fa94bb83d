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

export function tempDir(prefix = 'jl-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startServices(): Promise<Services> {
  const dir = tempDir('jl-services-');
  const mosquitto = process.env.JL_MQTT_URL ? undefined : await LocalMosquitto.start(join(dir, 'mosquitto'));
  const influxd = process.env.JL_INFLUX_URL ? undefined : await LocalInfluxd.start(join(dir, 'influxdb'));
  return {
    mqttUrl: process.env.JL_MQTT_URL ?? mosquitto!.url,
    influxUrl: process.env.JL_INFLUX_URL ?? influxd!.url,
    mosquitto,
    influxd,
    dir,
    async stop() {
      await mosquitto?.stop();
      await influxd?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
    await svc.stop?.();
  });
  return svc;
}
