import { describe, expect, it, onTestFinished } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { MessageFactory } from '../../ingest/simulator/simulator.js';
import { redactPersonal } from '../../processors/pseudonymise.js';
import { RetentionPolicy, beyondRetention, parseDuration } from '../../storage/influx/retention.js';
import { countAllPoints, influxQuery } from '../helpers/influx.js';
import { deadLetters, publishAll, testConfig, testLogger, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { tempDir, uniqueName, useServices } from '../helpers/services.js';

// Security review (issue 10), row 9: InfluxDB 1.x refuses points older than the retention
// policy with `400 partial write: points beyond retention policy dropped=N`, naming none of
// them. The output knows the policy's duration, so it names exactly those lines; the runtime
// no longer halves the batch (about 2N-1 writes for N old points).
describe('points beyond the retention policy', () => {
  const H = 3_600_000;
  const line = (ms: number, seq = 7) => `m,device=a\\ b v=1i ${ms}${String(seq).padStart(6, '0')}`;

  it('reads durations as InfluxDB prints them', () => {
    expect(parseDuration('1h0m0s')).toBe(H);
    expect(parseDuration('168h0m0s')).toBe(168 * H);
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('INF')).toBeUndefined();
  });

  it('names the lines older than now - duration, unless a shard group of newer lines covers them', () => {
    const now = Date.UTC(2026, 10, 23, 18, 30);
    const policy = { durationMs: H, shardGroupMs: H };
    // The cutoff is 17:30: the 17:00 group is opened by the 17:45 point, so 17:10 is kept.
    const lines = [line(now - 2 * 86_400_000), line(now - 5 * 60_000), line(Date.UTC(2026, 10, 23, 17, 10)), line(Date.UTC(2026, 10, 23, 17, 45)), line(Date.UTC(2026, 10, 23, 16, 59))];
    expect(beyondRetention(lines, policy, now)).toEqual([0, 4]);
    expect(beyondRetention(lines.slice(2, 3), policy, now)).toEqual([0]);
    expect(beyondRetention(lines, { durationMs: 0, shardGroupMs: 7 * 24 * H }, now)).toEqual([]);
    expect(beyondRetention(['m v=1'], policy, now)).toBeUndefined();
  });

  it('names none when what it knows does not match the count InfluxDB gives, even after reading the policy again', async () => {
    let loads = 0;
    const rp = new RetentionPolicy(() => Promise.resolve((loads++, { durationMs: H, shardGroupMs: H })));
    const now = () => Date.UTC(2026, 10, 23, 18, 30);
    const lines = [line(now() - 2 * 86_400_000), line(now() - 60_000)];
    expect(await rp.refused('partial write: points beyond retention policy dropped=1', lines, now)).toEqual([0]);
    expect(loads).toBe(1);
    expect(await rp.refused('partial write: points beyond retention policy dropped=2', lines, now)).toBeUndefined();
    expect(loads).toBe(2);
    expect(await rp.refused('partial write: field type conflict', lines, now)).toBeUndefined();
    const unknown = new RetentionPolicy(() => Promise.reject(new Error('unreachable')));
    expect(await unknown.refused('partial write: points beyond retention policy dropped=1', lines, now)).toBeUndefined();
  });
});

describe('points beyond the retention policy (real influxd)', () => {
  const svc = useServices();

  it('two-day-old readings in a 1h-retention database are dead-lettered in a few writes, the recent ones stored', async () => {
    const db = uniqueName('jlret');
    await influxQuery(svc.influxUrl, '', `CREATE DATABASE "${db}" WITH DURATION 1h`);
    const dataDir = tempDir();
    const { file, fleet } = writeFleet(dataDir, 27);
    const config = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir, devices: file, db });
    config.delivery.maxUnackedAgeMs = 120_000;
    const pipeline = await Pipeline.start(config, { logger: testLogger() });
    onTestFinished(() => pipeline.stop());
    await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');
    const writes: { points: number; ok: boolean }[] = [];
    pipeline.runtime.on('write', (w) => writes.push(w));

    // One factory per period (each device's readings move forward in time), interleaved so
    // that old and recent readings share every batch.
    const recent = new MessageFactory(fleet, 5);
    const past = new MessageFactory(fleet, 6);
    const now = Date.now();
    const messages = Array.from({ length: 2000 }, (_, i) => {
      const old = i % 2 === 1;
      const m = old ? past.next(now - 2 * 86_400_000 + i * 1000) : recent.next(now - 600_000 + i * 100);
      return { topic: m.topic, payload: JSON.stringify(m.payload), old };
    });
    await publishAll(svc.mqttUrl, messages);
    await waitUntil(() => pipeline.ledger.totals().received === 2000 && pipeline.runtime.health().pending === 0, 90_000, 'all settled');

    expect(pipeline.ledger.totals()).toMatchObject({ received: 2000, stored: 1000, deadLettered: 1000, inSpool: 0, nacked: 0 });
    const letters = deadLetters(dataDir);
    expect(letters).toHaveLength(1000);
    expect(letters.filter((l) => l.reason !== 'storage_rejected').map((l) => `${l.reason}: ${l.detail}`)).toEqual([]);
    expect(letters[0].detail).toMatch(/retention policy/);
    // The messages as they came, personal fields pseudonymised (a BSM's vehicle_id): nothing is stored in the clear.
    const key = Buffer.from(config.pseudonymKey!, 'hex');
    expect(messages.filter((m) => m.old).some((m) => m.payload.includes('"vehicle_id"'))).toBe(true);
    expect(new Set(letters.map((l) => l.payload))).toEqual(new Set(messages.filter((m) => m.old).map((m) => redactPersonal(key, ['vehicle_id'], Buffer.from(m.payload), { parse: true }).toString())));
    expect(letters.filter((l) => /"vehicle_id":"(?!ps_)/.test(l.payload))).toEqual([]);
    expect(await countAllPoints(svc.influxUrl, db)).toBe(1000);
    // Each batch: one write refused (old lines named), one of the rest; not ~2 per old point.
    const batches = writes.filter((w) => !w.ok).length;
    expect(batches).toBeGreaterThan(0);
    expect(writes.length).toBeLessThanOrEqual(3 * batches);
    expect(writes.length).toBeLessThan(40);
  });
});
