import { mkdirSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { sign } from '../../core/signature.js';
import { MessageFactory } from '../../ingest/simulator/simulator.js';
import { countAllPoints } from '../helpers/influx.js';
import { deadLetters, publishAll, testConfig, testLogger, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { tempDir, useServices } from '../helpers/services.js';

/** An HTTP proxy in front of the real influxd that answers 500 to everything while `failing`. */
async function influxProxy(target: string): Promise<{ url: string; failing: boolean; refused: number; close(): Promise<void> }> {
  const t = new URL(target);
  const state = { url: '', failing: false, refused: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    if (state.failing) {
      state.refused++;
      req.resume();
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"injected: engine overloaded"}');
      return;
    }
    const up = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}+."=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1]);

// Delivery failures through the real mosquitto and InfluxDB: a poison integer among valid
// messages, InfluxDB refusing writes with 500 for a while, an unwritable dead-letter file and an
// unwritable spool. Each ends with exact counts, and /readyz and /metrics tell the truth meanwhile.
describe('delivery faults through real services', () => {
  const svc = useServices();

  async function start(opts: { influxUrl?: string; maxUnackedAgeMs?: number } = {}) {
    const dataDir = tempDir();
    const { file, fleet } = writeFleet(dataDir, 99);
    const config = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: opts.influxUrl ?? svc.influxUrl, dataDir, devices: file });
    config.delivery.maxUnackedAgeMs = opts.maxUnackedAgeMs ?? 30_000;
    config.influx.retryMaxMs = 200;
    const pipeline = await Pipeline.start(config, { logger: testLogger() });
    onTestFinished(() => pipeline.stop());
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
    const factory = new MessageFactory(fleet, 21);
    const messages = (n: number, t0 = Date.now() - 600_000) => Array.from({ length: n }, (_, i) => {
      const m = factory.next(t0 + i);
      return { topic: m.topic, payload: JSON.stringify(m.payload) };
    });
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${pipeline.httpPort}${path}`);
      return { status: res.status, text: await res.text() };
    };
    return { pipeline, dataDir, fleet, factory, messages, get, db: config.influx.database };
  }

  it('a poison integer among valid messages is dead-lettered and nothing stalls', async () => {
    const { pipeline, fleet, factory, messages, db, dataDir } = await start();
    // A machine's counter of 10^19: valid JSON, an integer to ajv, and signed like any other
    // message; it used to make the line-protocol encoder throw and the batch stall for good.
    const machine = fleet.find((d) => d.types.includes('machine'))!;
    const m = factory.make(machine, 'machine', Date.now() - 700_000);
    const body = { ...m.payload, data: { ...(m.payload.data as object), good_count: 1e19 } } as Record<string, unknown>;
    delete body.sig;
    if (machine.key) body.sig = sign(Buffer.from(machine.key, 'hex'), m.topic, body);
    const poison = JSON.stringify(body).replace('"good_count":1e+19', '"good_count":10000000000000000000');
    expect(poison).toContain('"good_count":10000000000000000000');
    const valid = messages(2000);
    await publishAll(svc.mqttUrl, [{ topic: m.topic, payload: poison }, ...valid]);
    await waitUntil(() => pipeline.ledger.totals().received === 2001 && pipeline.runtime.health().pending === 0, 30_000, 'all settled');
    expect(await countAllPoints(svc.influxUrl, db)).toBe(2000);
    const letters = deadLetters(dataDir);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason: 'schema_violation', topic: m.topic });
    expect(letters[0].detail).toMatch(/good_count .* too large to store exactly/);
    expect(pipeline.stats().balanced).toBe(true);
    expect(pipeline.ready().ok).toBe(true);
  });

  it('InfluxDB answering 500 for a while: data is spooled and acked, then replayed; exact counts', async () => {
    const proxy = await influxProxy(svc.influxUrl);
    onTestFinished(() => proxy.close());
    const { pipeline, messages, db, get } = await start({ influxUrl: proxy.url });
    await publishAll(svc.mqttUrl, messages(500));
    await waitUntil(() => pipeline.ledger.totals().stored === 500, 20_000, 'first part stored');
    proxy.failing = true;
    const during = messages(1500, Date.now() - 300_000);
    await publishAll(svc.mqttUrl, during);
    await waitUntil(() => pipeline.ledger.totals().inSpool > 0 && pipeline.runtime.health().pending === 0, 20_000, 'spooled and acked while InfluxDB refuses');
    expect(proxy.refused).toBeGreaterThan(0);
    expect(pipeline.runtime.health().outputUp).toBe(false);
    const metrics = (await get('/metrics')).text;
    expect(metric(metrics, 'jl_influx_up')).toBe(0);
    expect(metric(metrics, 'jl_spool_bytes')).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1000)); // a while: several replay attempts meet 500 too
    proxy.failing = false;
    await waitUntil(() => pipeline.ledger.totals().stored === 2000 && pipeline.ledger.totals().inSpool === 0, 30_000, 'replayed once InfluxDB takes writes');
    expect(await countAllPoints(svc.influxUrl, db)).toBe(2000);
    expect(pipeline.ledger.totals()).toMatchObject({ received: 2000, stored: 2000, deadLettered: 0, inSpool: 0, nacked: 0 });
    expect(deadLetters(pipeline.config.dataDir)).toHaveLength(0);
    expect((await get('/readyz')).status).toBe(200);
    // What /metrics says of it (issue 14): refused writes and good ones in the write-duration
    // histogram, every stored reading in the end-to-end one, and the standard process metrics.
    const after = (await get('/metrics')).text;
    expect(metric(after, 'jl_influx_write_duration_seconds_count{outcome="error"}')).toBeGreaterThan(0);
    expect(metric(after, 'jl_influx_write_duration_seconds_count{outcome="ok"}')).toBeGreaterThan(0);
    expect(metric(after, 'jl_end_to_end_latency_seconds_count')).toBe(2000);
    expect(metric(after, 'jl_end_to_end_latency_seconds_bucket{le="+Inf"}')).toBe(2000);
    expect(metric(after, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(metric(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(after).not.toMatch(/^jl_process_/m);
    expect(metric(after, 'jl_mqtt_connected')).toBe(1);
    expect(metric(after, 'jl_mqtt_reconnects_total')).toBe(0);
    expect(metric(after, 'jl_spool_limit_bytes')).toBe(pipeline.config.spool.maxBytes);
    expect(after).toMatch(/^jl_build_info\{version="\d+\.\d+\.\d+",node="v\d+[^"]*",role="single"\} 1$/m);
  });

  it('an unwritable dead-letter file (ENOSPC): unready, rejections held, valid data stored; recovers without a restart', async () => {
    const { pipeline, dataDir, messages, db, get } = await start();
    // The store's file for today points at /dev/full: every write fails with ENOSPC.
    const dlq = join(dataDir, 'dlq');
    mkdirSync(dlq, { recursive: true });
    const file = join(dlq, `dead-letters-${new Date().toISOString().slice(0, 10)}.jsonl`);
    await pipeline.deadLetters.close(); // it reopens the file on the next write
    rmSync(file, { force: true });
    symlinkSync('/dev/full', file);
    const valid = messages(300);
    const invalid = Array.from({ length: 20 }, (_, i) => ({ topic: `jl/agri/220100/ghost-${i}/soil`, payload: valid[0].payload }));
    await publishAll(svc.mqttUrl, [...invalid, ...valid]);
    await waitUntil(() => pipeline.ledger.totals().stored === 300, 20_000, 'valid data stored meanwhile');
    await waitUntil(async () => (await get('/readyz')).status === 503, 10_000, '/readyz 503');
    const ready = JSON.parse((await get('/readyz')).text) as { checks: Record<string, boolean> };
    expect(ready.checks.deadLetterWritable).toBe(false);
    const metrics = (await get('/metrics')).text;
    expect(metric(metrics, 'jl_dead_letter_writable')).toBe(0);
    expect(metric(metrics, 'jl_ready')).toBe(0);
    expect(pipeline.runtime.health().pending).toBe(20);
    rmSync(file); // the fault clears
    await waitUntil(() => pipeline.runtime.health().pending === 0, 20_000, 'rejections dead-lettered');
    expect(deadLetters(dataDir).filter((l) => l.reason === 'unknown_device')).toHaveLength(20);
    expect(pipeline.ledger.totals()).toMatchObject({ received: 320, stored: 300, deadLettered: 20, inSpool: 0 });
    expect(await countAllPoints(svc.influxUrl, db)).toBe(300);
    await waitUntil(async () => (await get('/readyz')).status === 200, 10_000, '/readyz 200 again');
  });

  it('InfluxDB refusing and the spool unwritable: nothing acked or lost, unready once messages wait too long; exact counts after', async () => {
    const proxy = await influxProxy(svc.influxUrl);
    onTestFinished(() => proxy.close());
    const { pipeline, dataDir, messages, db, get } = await start({ influxUrl: proxy.url, maxUnackedAgeMs: 1000 });
    // A directory where the spool writes its state file: every append fails (EISDIR).
    const blocker = join(dataDir, 'spool', 'state.json.tmp');
    mkdirSync(blocker, { recursive: true });
    proxy.failing = true;
    await publishAll(svc.mqttUrl, messages(400));
    await waitUntil(async () => (await get('/readyz')).status === 503, 15_000, '/readyz 503');
    const ready = JSON.parse((await get('/readyz')).text) as { checks: Record<string, boolean>; detail: { oldestUnackedAgeMs: number } };
    expect(ready.checks).toMatchObject({ spoolWritable: false });
    await waitUntil(() => pipeline.ready().checks.unackedWithinBound === false, 10_000, 'messages waiting too long');
    const metrics = (await get('/metrics')).text;
    expect(metric(metrics, 'jl_spool_writable')).toBe(0);
    expect(metric(metrics, 'jl_oldest_unacked_age_seconds')).toBeGreaterThan(1);
    expect(pipeline.ledger.totals()).toMatchObject({ received: 400, stored: 0, inSpool: 0 });
    expect(pipeline.source.unacked).toBe(400);
    rmSync(blocker, { recursive: true }); // the disk is back: the held batches are spooled, then replayed
    proxy.failing = false;
    await waitUntil(() => pipeline.ledger.totals().stored === 400 && pipeline.runtime.health().pending === 0, 30_000, 'all stored');
    expect(await countAllPoints(svc.influxUrl, db)).toBe(400);
    expect(existsSync(blocker)).toBe(false);
    await waitUntil(async () => (await get('/readyz')).status === 200, 15_000, '/readyz 200 again');
  });
});
