import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import koffi from 'koffi';

/**
 * A librdkafka mock cluster (brokers speaking the Kafka protocol on loopback) for demos, tests
 * and `jlpipe kafka mock`. It is hosted through librdkafka's C API (the same library node-rdkafka
 * built) because the mock brokers do not implement CreateTopics: a client's
 * `test.mock.num.brokers` gives topics of 4 partitions only, while the C API creates them with
 * the configured count. The cluster lives as long as this process (or until `close`).
 */
export class MockCluster {
  private constructor(
    private readonly lib: MockApi,
    private readonly rk: unknown,
    readonly bootstrap: string,
  ) {}

  static start(brokers = 3): MockCluster {
    const lib = api();
    const err = Buffer.alloc(512);
    const conf = lib.confNew();
    lib.confSet(conf, 'log_level', '3', err, err.length);
    const rk = lib.kafkaNew(0, conf, err, err.length);
    if (!rk) throw new Error(`mock cluster: ${err.toString('utf8').replace(/\0.*$/s, '')}`);
    const mc = lib.clusterNew(rk, brokers);
    if (!mc) throw new Error('mock cluster: could not start the mock brokers');
    lib.rebalanceDelay(mc, 0);
    const cluster = new MockCluster(lib, rk, lib.bootstraps(mc));
    cluster.mc = mc;
    return cluster;
  }

  private mc: unknown;

  /** Creates a topic (no-op error code when it exists). */
  createTopic(name: string, partitions: number, replication: number): void {
    const code = this.lib.topicCreate(this.mc, name, partitions, replication);
    if (code !== 0 && code !== 36 /* TOPIC_ALREADY_EXISTS */) throw new Error(`mock cluster: creating ${name} failed (code ${code})`);
  }

  close(): void {
    if (!this.mc) return;
    this.lib.clusterDestroy(this.mc);
    this.lib.kafkaDestroy(this.rk);
    this.mc = undefined;
  }
}

interface MockApi {
  confNew: () => unknown;
  confSet: (conf: unknown, name: string, value: string, err: Buffer, size: number) => number;
  kafkaNew: (type: number, conf: unknown, err: Buffer, size: number) => unknown;
  kafkaDestroy: (rk: unknown) => void;
  clusterNew: (rk: unknown, brokers: number) => unknown;
  clusterDestroy: (mc: unknown) => void;
  bootstraps: (mc: unknown) => string;
  topicCreate: (mc: unknown, topic: string, partitions: number, rf: number) => number;
  rebalanceDelay: (mc: unknown, ms: number) => void;
}

let loaded: MockApi | undefined;

/** The librdkafka that node-rdkafka built and loaded, with the mock-cluster functions. */
function api(): MockApi {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('node-rdkafka/package.json'));
  const lib = koffi.load(join(root, 'build', 'deps', 'librdkafka.so.1'));
  const fn = (sig: string) => lib.func(sig) as (...args: unknown[]) => unknown;
  loaded = {
    confNew: fn('void* rd_kafka_conf_new()'),
    confSet: fn('int rd_kafka_conf_set(void* conf, const char* name, const char* value, _Out_ uint8_t* errstr, size_t size)') as MockApi['confSet'],
    kafkaNew: fn('void* rd_kafka_new(int type, void* conf, _Out_ uint8_t* errstr, size_t size)'),
    kafkaDestroy: fn('void rd_kafka_destroy(void* rk)'),
    clusterNew: fn('void* rd_kafka_mock_cluster_new(void* rk, int brokers)'),
    clusterDestroy: fn('void rd_kafka_mock_cluster_destroy(void* mc)'),
    bootstraps: fn('const char* rd_kafka_mock_cluster_bootstraps(void* mc)') as MockApi['bootstraps'],
    topicCreate: fn('int rd_kafka_mock_topic_create(void* mc, const char* topic, int partitions, int rf)') as MockApi['topicCreate'],
    rebalanceDelay: fn('void rd_kafka_mock_group_initial_rebalance_delay_ms(void* mc, int ms)'),
  };
  return loaded;
}
