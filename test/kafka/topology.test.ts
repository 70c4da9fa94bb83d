import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MessageFactory, Simulator } from '../../ingest/simulator/simulator.js';
import { countAllPoints } from '../helpers/influx.js';
import { kcatProduce, kcatRead, spawnRole, startMockKafka, writeConfig } from '../helpers/kafka.js';
import { deadLetters, getJson, publishAll, simulate, testConfig, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { tempDir, uniqueName, useServices } from '../helpers/services.js';

// The scale-out topology (SPEC 8) on librdkafka's mock cluster (3 brokers, 6 partitions), with
// the real mosquitto and InfluxDB, and kcat as an outside producer and consumer.
describe('Kafka topology: 2 gateways, 3 workers', () => {
  const svc = useServices();

  it('stores exactly N points for N valid messages (MQTT and jl.ingest); every invalid one is on jl.dlq and on disk with its reason', async () => {
    const dir = tempDir();
    const { file, fleet } = writeFleet(dir, 60);
    const c = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: join(dir, 'data'), devices: file, db: uniqueName('jl_kafka') });
    c.log.level = 'info';
    c.mqtt.shareGroup = uniqueName('gw');
    c.kafka.sessionTimeoutMs = 6000;
    startMockKafka(c);
    const cfg = writeConfig(dir, c);
    const workers = await Promise.all(['1', '2', '3'].map((i) => spawnRole(cfg, 'worker', i)));
    await Promise.all(['1', '2'].map((i) => spawnRole(cfg, 'gateway', i)));
    // Every worker owns partitions once the group has settled.
    await waitUntil(async () => {
      const owned = await Promise.all(workers.map(async (w) => (await getJson<{ kafka: { consumers: { partitions: number[] }[] } }>(w.port, '/stats')).body.kafka.consumers[0].partitions.length));
      return owned.every((n) => n > 0) && owned.reduce((a, b) => a + b, 0) === 6;
    }, 30_000, 'the 6 partitions spread over the 3 workers');

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

