import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadCatalogue } from '../../config/catalogue.js';
import { MessageFactory, Simulator } from '../../ingest/simulator/simulator.js';
import { countAllPoints } from '../helpers/influx.js';
import { kafkaTopology, kcatProduce, kcatRead, spawnRole } from '../helpers/kafka.js';
import { TOKENS, deadLetters, getJson, publishAll, simulate, waitUntil } from '../helpers/pipeline.js';
import { useServices } from '../helpers/services.js';

// The scale-out topology (SPEC 8) on librdkafka's mock cluster (3 brokers, 6 partitions), with
// the real mosquitto and InfluxDB, and kcat as an outside producer and consumer.
describe('Kafka topology: 2 gateways, 3 workers', () => {
  const svc = useServices();

  /** Config, mock Kafka and a fleet for one test; `workers` are started and own every partition. */
  async function topology(workerCount: number, gatewayCount: number, devices = 60) {
    const { c, fleet, cfg } = kafkaTopology(svc, devices);
    const workers = await Promise.all(Array.from({ length: workerCount }, (_, i) => spawnRole(cfg, 'worker', String(i + 1))));
    const gateways = await Promise.all(Array.from({ length: gatewayCount }, (_, i) => spawnRole(cfg, 'gateway', String(i + 1))));
    await waitUntil(async () => {
      const owned = await Promise.all(workers.map(async (w) => (await getJson<{ kafka: { consumers: { partitions: number[] }[] } }>(w.port, '/stats')).body.kafka.consumers[0].partitions.length));
      return owned.every((n) => n > 0) && owned.reduce((a, b) => a + b, 0) === c.kafka.partitions;
    }, 30_000, `the ${c.kafka.partitions} partitions spread over the workers`);
    return { c, cfg, fleet, workers, gateways, points: () => countAllPoints(svc.influxUrl, c.influx.database) };
  }

  /** Waits until InfluxDB holds `n` points, then checks that no more arrive. */
  async function exactly(points: () => Promise<number>, n: number, ms = 90_000): Promise<void> {
    await waitUntil(async () => (await points()) >= n, ms, `${n} points in InfluxDB`);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await points()).toBe(n);
  }

  it('a worker SIGKILLed mid-stream: its partitions move and exactly N points are stored', async () => {
    const t = await topology(3, 1);
    const N = 4000;
    const sending = simulate(new Simulator({ url: svc.mqttUrl, fleet: t.fleet, rate: 800, count: N, seed: 12 }));
    await new Promise((r) => setTimeout(r, 2000));
    const partitionsOf = (w: (typeof t.workers)[number]) => getJson<{ kafka: { consumers: { partitions: number[] }[] } }>(w.port, '/stats').then((r) => r.body.kafka.consumers[0].partitions);
    const before = await Promise.all(t.workers.slice(1).map(partitionsOf));
    t.workers[0].child.kill('SIGKILL');
    await sending;
    await exactly(t.points, N);
    // The two survivors own all six partitions now, and kept their own (cooperative-sticky: only the dead member's moved).
    const after = await Promise.all(t.workers.slice(1).map(partitionsOf));
    expect(after.flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
    after.forEach((ps, i) => expect(ps).toEqual(expect.arrayContaining(before[i])));
    // The same on /metrics: partitions owned, the rebalance each survivor took part in, lag per partition, commits.
    const metric = (text: string, name: string) => [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'gm'))].map((m) => Number(m[1]));
    const texts = await Promise.all(t.workers.slice(1).map(async (w) => (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text()));
    expect(texts.flatMap((x) => metric(x, 'jl_kafka_partitions_owned')).reduce((a, b) => a + b, 0)).toBe(6);
    for (const x of texts) {
      expect(metric(x, 'jl_kafka_rebalances_total')[0]).toBeGreaterThanOrEqual(2);
      expect(metric(x, 'jl_kafka_commits_total')[0]).toBeGreaterThan(0);
      expect(metric(x, 'jl_kafka_consumer_lag')).toEqual(expect.arrayContaining([0]));
    }
    expect(texts.flatMap((x) => metric(x, 'jl_kafka_consumer_lag'))).toHaveLength(6);
  }, 180_000);

  it('a gateway SIGKILLed mid-stream and restarted (same instance): MQTT redelivers what Kafka did not confirm, exactly N', async () => {
    const t = await topology(2, 2);
    const N = 4000;
    const sending = simulate(new Simulator({ url: svc.mqttUrl, fleet: t.fleet, rate: 800, count: N, seed: 13 }));
    await new Promise((r) => setTimeout(r, 2000));
    t.gateways[0].child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    await spawnRole(t.cfg, 'gateway', '1');
    await sending;
    await exactly(t.points, N);
  }, 180_000);

  it('InfluxDB down for 20 s under load: workers pause their partitions and resume, exactly N, memory bounded', async () => {
    expect(svc.influxd, 'this test kills its own influxd; unset JL_INFLUX_URL').toBeDefined();
    const influxd = svc.influxd!;
    onTestFinished(async () => {
      if (!influxd.running) await influxd.start();
    });
    const t = await topology(3, 1);
    const N = 15000;
    const sending = simulate(new Simulator({ url: svc.mqttUrl, fleet: t.fleet, rate: 500, count: N, seed: 14 }));
    await waitUntil(async () => (await t.points()) > 500, 20_000, 'first points stored');
    await influxd.stop('SIGKILL');
    type Stats = { kafka: { consumers: { paused: boolean; unsettled: number; totalLag: number }[] }; pending: number };
    const seen = { paused: 0, pausedMetric: 0, maxUnsettled: 0, maxLag: 0, maxRss: 0 };
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      for (const w of t.workers) {
        const st = (await getJson<Stats>(w.port, '/stats')).body.kafka.consumers[0];
        if (st.paused) seen.paused++;
        seen.maxUnsettled = Math.max(seen.maxUnsettled, st.unsettled);
        seen.maxLag = Math.max(seen.maxLag, st.totalLag);
        const metrics = await (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text();
        seen.maxRss = Math.max(seen.maxRss, Number(/^process_resident_memory_bytes (\S+)/m.exec(metrics)?.[1] ?? 0));
        if (/^jl_kafka_paused\{[^}]*\} 1$/m.test(metrics)) seen.pausedMetric++;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await influxd.start();
    await sending;
    await exactly(t.points, N, 120_000);
    // Every worker held its partitions while InfluxDB was down; what waited stayed in Kafka (lag), not in memory.
    expect(seen.paused).toBeGreaterThanOrEqual(3);
    expect(seen.pausedMetric, 'jl_kafka_paused 1 on /metrics while InfluxDB was down').toBeGreaterThanOrEqual(3);
    expect(seen.maxLag).toBeGreaterThan(0);
    expect(seen.maxUnsettled).toBeLessThanOrEqual(t.c.kafka.maxUnsettled);
    expect(seen.maxRss).toBeLessThan(400 * 1024 * 1024);
    const resumed = await Promise.all(t.workers.map(async (w) => (await getJson<Stats>(w.port, '/stats')).body.kafka.consumers[0].paused));
    expect(resumed).toEqual([false, false, false]);
  }, 240_000);

  it('a region flood spread over devices owned by 3 different workers opens one region incident', async () => {
    const t = await topology(3, 1, 240);
    const incidents = await spawnRole(t.cfg, 'incidents', '1');
    // The sector-region with the most single-type devices; each sends under its own flood limit.
    const groups = new Map<string, typeof t.fleet>();
    for (const d of t.fleet) if (d.types.length === 1) groups.set(`${d.sector}/${d.region}`, [...(groups.get(`${d.sector}/${d.region}`) ?? []), d]);
    const [region, devices] = [...groups].sort((a, b) => b[1].length - a[1].length)[0];
    expect(devices.length).toBeGreaterThanOrEqual(6);
    const catalogue = loadCatalogue(t.c.catalogue);
    const flood = t.c.detection.flood;
    const expected = devices.map((d) => flood.windowMs / catalogue.byType.get(`${d.sector}/${d.types[0]}`)!.updateCycleMs);
    const perDevice = Math.floor(Math.min(...expected.map((e) => flood.factor * e + flood.slack))); // at each device's limit, not over
    expect(perDevice * devices.length).toBeGreaterThan(flood.factor * expected.reduce((a, b) => a + b, 0) + flood.slack);
    const windowStart = Math.floor(Date.now() / flood.windowMs) * flood.windowMs - flood.windowMs;
    const factory = new MessageFactory(t.fleet, 21);
    const messages = devices.flatMap((d, k) => Array.from({ length: perDevice }, (_, i) => factory.make(d, d.types[0], windowStart + 1000 + i * 200 + k)));
    await publishAll(svc.mqttUrl, messages.map((m) => ({ topic: m.topic, payload: JSON.stringify(m.payload) })));
    await exactly(t.points, messages.length);
    // The region's devices really are spread over the three workers (their partitions on jl.readings, read with kcat).
    const partitionOf = new Map(kcatRead(t.c.kafka.brokers!, t.c.kafka.topics.readings, '%k\\t%p\\t%h\\t%s\\n').map((r) => [r.key, Number(r.headers)]));
    const owners = await Promise.all(t.workers.map(async (w) => (await getJson<{ kafka: { consumers: { partitions: number[] }[] } }>(w.port, '/stats')).body.kafka.consumers[0].partitions));
    const ownerOf = (id: string) => owners.findIndex((ps) => ps.includes(partitionOf.get(id)!));
    expect(new Set(devices.map((d) => ownerOf(d.id))).size).toBe(3);
    type Inc = { detector: string; kind: string; sector: string; region: string };
    const regionFloods = async () => (await getJson<{ items: Inc[] }>(incidents.port, '/incidents', TOKENS.admin)).body.items.filter((i) => i.detector === 'flood' && i.kind === 'region');
    await waitUntil(async () => (await regionFloods()).length > 0, 30_000, 'a region flood incident');
    await new Promise((r) => setTimeout(r, 3000));
    const found = await regionFloods();
    expect(found).toHaveLength(1);
    expect(`${found[0].sector}/${found[0].region}`).toBe(region);
    // No device flooded on its own: the region signal came from the sum over the workers.
    const all = (await getJson<{ items: Inc[] }>(incidents.port, '/incidents', TOKENS.admin)).body.items;
    expect(all.filter((i) => i.detector === 'flood' && i.kind === 'device')).toEqual([]);
  }, 240_000);

  it('stores exactly N points for N valid messages (MQTT and jl.ingest); every invalid one is on jl.dlq and on disk with its reason', async () => {
    const { c, fleet } = await topology(3, 2);
    const N = 3000;
    await simulate(new Simulator({ url: svc.mqttUrl, fleet, rate: 1500, count: N, seed: 11 }));
    // Invalid over MQTT: not JSON, and a device the registry does not know.
    const d = fleet[0];
        await publishAll(svc.mqttUrl, [
      { topic: `jl/${d.sector}/${d.region}/${d.id}/${d.types[0]}`, payload: 'not json' },
      { topic: `jl/${d.sector}/${d.region}/no-such-device/${d.types[0]}`, payload: JSON.stringify(new MessageFactory(fleet, 98).make(d, d.types[0], Date.now()).payload) },
    ]);
    // Through jl.ingest with kcat: one valid message, one invalid.
    const valid = new MessageFactory(fleet, 99).make(d, d.types[0], Date.now());
    kcatProduce(c.kafka.brokers!, c.kafka.topics.ingest, [
      { headers: { topic: valid.topic }, value: JSON.stringify(valid.payload) },
      { headers: { topic: valid.topic }, value: '{"broken' },
    ]);

    await waitUntil(async () => (await countAllPoints(svc.influxUrl, c.influx.database)) >= N + 1, 60_000, `${N + 1} points in InfluxDB`);
    await new Promise((r) => setTimeout(r, 2000)); // nothing more arrives
    expect(await countAllPoints(svc.influxUrl, c.influx.database)).toBe(N + 1);

    const dlq = kcatRead(c.kafka.brokers!, c.kafka.topics.dlq).map((r) => JSON.parse(r.value) as { reason: string; topic: string });
    expect(dlq.map((l) => l.reason).sort()).toEqual(['invalid_json', 'invalid_json', 'unknown_device']);
    const onDisk = readdirSync(c.dataDir).filter((f) => f.startsWith('gateway-')).flatMap((g) => deadLetters(join(c.dataDir, g)));
    expect(onDisk.map((l) => l.reason).sort()).toEqual(['invalid_json', 'invalid_json', 'unknown_device']);
  }, 180_000);
});

