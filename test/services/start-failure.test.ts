import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalInfluxd } from '../../services/influxd.js';
import { LocalMosquitto } from '../../services/mosquitto.js';
import { tempDir } from '../helpers/services.js';

// A server that cannot start (here: its port is taken) must fail the start at once and say
// why, with the end of its own log, instead of being polled until a timeout.
describe('a local server that exits at start-up', () => {
  let taken: Server;
  let port = 0;
  beforeAll(async () => {
    taken = createServer((sock) => sock.destroy());
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => taken.close(() => r())));

  it('influxd: rejects quickly, naming the exit and quoting its log', async () => {
    const t0 = Date.now();
    const err = await LocalInfluxd.start(join(tempDir(), 'influxdb'), port).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/influxd exited before it was ready/);
    expect(err?.message).toMatch(/address already in use/);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it('mosquitto: rejects quickly, naming the exit and quoting its log', async () => {
    const err = await LocalMosquitto.start(join(tempDir(), 'mosquitto'), port).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/mosquitto exited before it was ready/);
    expect(err?.message).toMatch(/[Aa]ddress already in use/);
  });
});
