import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import type { PipelineConfig } from '../../app/config.js';
import { MockCluster } from '../../kafka/mock-cluster.js';
import { ensureDebianBinary } from '../../services/apt.js';
import { topicSpecs } from '../../kafka/topics.js';
import { spawnPipeline, testConfig, writeFleet, type PipelineChild } from './pipeline.js';
import { tempDir, uniqueName, type Services } from './services.js';

/** A librdkafka mock cluster (3 brokers) with the topology's topics, closed when the test ends. */
export function startMockKafka(c: PipelineConfig): MockCluster {
  const mock = MockCluster.start(3);
  for (const t of topicSpecs(c.kafka)) mock.createTopic(t.topic, c.kafka.partitions, 3);
  onTestFinished(() => mock.close());
  c.kafka.brokers = mock.bootstrap;
  return mock;
}

/** Writes the config as the YAML file the role processes read (paths are absolute already). */
export function writeConfig(dir: string, c: PipelineConfig): string {
  const rest: Partial<PipelineConfig> = { ...c };
  delete rest.file;
  const file = join(dir, 'pipeline.yaml');
  writeFileSync(file, stringify(rest));
  return file;
}

/** Starts `jlpipe start --role <role> --instance <i>` and waits until it is ready. */
export function spawnRole(cfg: string, role: 'gateway' | 'worker' | 'incidents', instance: string): Promise<PipelineChild> {
  return spawnPipeline(cfg, ['--role', role, '--instance', instance]);
}

/** Every record of a topic as kcat (an outside client) reads it: headers and value. */
export function kcatRead(brokers: string, topic: string, format = '%k\\t%h\\t%s\\n'): { headers: string; value: string; key: string }[] {
  const out = execFileSync(kcat(), ['-C', '-b', brokers, '-t', topic, '-e', '-q', '-o', 'beginning', '-f', format], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [key, headers, ...value] = l.split('\t');
      return { key, headers, value: value.join('\t') };
    });
}

/** Produces records into a topic with kcat (an outside producer): one per line, with headers. */
export function kcatProduce(brokers: string, topic: string, records: { headers: Record<string, string>; value: string }[]): void {
  for (const r of records) {
    const h = Object.entries(r.headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
    execFileSync(kcat(), ['-P', '-b', brokers, '-t', topic, ...h], { input: r.value });
  }
}

/** Debian's kcat, installed when missing (as root), else a loud failure naming the package. */
const kcat = () => ensureDebianBinary('kcat', 'kcat');

/**
 * One test's Kafka topology set-up: a fleet of `devices`, a config on the test's services with
 * its own database, data dir and MQTT share group, a mock cluster, and the config file the role
 * processes read.
 */
export function kafkaTopology(svc: Services, devices: number) {
  const dir = tempDir();
  const { file, fleet } = writeFleet(dir, devices);
  const c = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: join(dir, 'data'), devices: file, db: uniqueName('jl_kafka') });
  c.log.level = 'info'; // the roles' ports are read from their log
  c.mqtt.shareGroup = uniqueName('gw');
  c.kafka.sessionTimeoutMs = 6000;
  startMockKafka(c);
  return { c, fleet, cfg: writeConfig(dir, c) };
}
