import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { EmbeddedBroker } from '../../ingest/mqtt/embedded-broker.js';
import { MockCluster } from '../../kafka/mock-cluster.js';
import { topicSpecs } from '../../kafka/topics.js';
import type { PipelineConfig } from '../config.js';
import { connectInflux, type InfluxConnection } from '../influx.js';
import { pseudonymKey } from '../pipeline.js';
import type { RoleName } from './role.js';

// The embedded aedes broker speaks MQTT 3.1.1 only and has no shared subscriptions: the children
// are told so (JL_MQTT_PROTOCOL, JL_MQTT_SHARE_GROUP=none; there is one gateway).

export interface SupervisorOptions {
  workers?: number;
  /** The CLI entry point the children run (`dist/cli/jlpipe.js`). */
  entry: string;
  configFile?: string;
  localInflux: boolean;
}

interface Child {
  role: RoleName;
  instance: string;
  port: number;
  proc?: ChildProcess;
  restarts: number;
}

/**
 * `jlpipe start --workers N`: the Kafka topology on one machine, using all its cores: one
 * gateway, N workers (default one per core) and one incident manager, each a child process,
 * on the configured Kafka or a librdkafka mock cluster hosted here. A child that dies is
 * started again (same instance id: same MQTT session, same spool) after a second. The
 * embedded MQTT broker and a local influxd stand in when none is configured, as for `npm start`.
 */
export class Supervisor {
  private readonly children: Child[] = [];
  private stopping = false;

  private constructor(
    private readonly opts: SupervisorOptions,
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv,
    private readonly mock?: MockCluster,
    private readonly broker?: EmbeddedBroker,
    private readonly influx?: InfluxConnection,
  ) {}

  static async start(config: PipelineConfig, opts: SupervisorOptions, log: Logger): Promise<Supervisor> {
    let mock: MockCluster | undefined;
    let brokers = config.kafka.brokers;
    if (!brokers) {
      mock = MockCluster.start(3);
      for (const t of topicSpecs(config.kafka)) mock.createTopic(t.topic, config.kafka.partitions, Math.min(3, config.kafka.replication));
      brokers = mock.bootstrap;
      log.warn({ brokers }, 'no kafka.brokers configured: librdkafka mock cluster started (demo only: nothing is kept)');
    }
    const broker = config.mqtt.url ? undefined : await EmbeddedBroker.start(config.mqtt.embeddedPort);
    const influx = await connectInflux(config, opts.localInflux, log);
    mkdirSync(config.dataDir, { recursive: true });
    pseudonymKey(config); // made once here, so every gateway pseudonymises alike
    const env: NodeJS.ProcessEnv = { ...process.env, JL_KAFKA_BROKERS: brokers, JL_MQTT_URL: config.mqtt.url ?? broker!.url, ...(broker ? { JL_MQTT_PROTOCOL: '4', JL_MQTT_SHARE_GROUP: 'none' } : {}), ...(influx.url ? { JL_INFLUX_URL: influx.url } : {}), JL_DATA_DIR: config.dataDir };
    const s = new Supervisor(opts, log, env, mock, broker, influx);
    const workers = opts.workers ?? availableParallelism();
    const port = (i: number) => (config.http.port ? config.http.port + i : 0);
    s.children.push({ role: 'gateway', instance: '1', port: port(1), restarts: 0 });
    for (let i = 1; i <= workers; i++) s.children.push({ role: 'worker', instance: String(i), port: port(1 + i), restarts: 0 });
    s.children.push({ role: 'incidents', instance: '1', port: port(2 + workers), restarts: 0 });
    for (const c of s.children) s.spawn(c);
    log.info({ workers, brokers, mqtt: env.JL_MQTT_URL }, 'scale-out topology started');
    return s;
  }

  /** The bootstrap address of the Kafka the children use. */
  get brokers(): string {
    return this.env.JL_KAFKA_BROKERS!;
  }

  get mqttUrl(): string {
    return this.env.JL_MQTT_URL!;
  }

  private spawn(c: Child): void {
    const args = ['start', '--role', c.role, '--instance', c.instance, ...(this.opts.configFile ? ['-c', this.opts.configFile] : [])];
    const proc = fork(this.opts.entry, args, { env: { ...this.env, JL_HTTP_PORT: String(c.port) }, stdio: 'inherit' });
    c.proc = proc;
    proc.on('exit', (code, signal) => {
      if (this.stopping) return;
      c.restarts++;
      this.log.error({ role: c.role, instance: c.instance, code, signal, restarts: c.restarts }, 'child exited: starting it again in 1 s');
      setTimeout(() => !this.stopping && this.spawn(c), 1000);
    });
  }

  /** SIGTERM to every child (each flushes), then the broker, influxd and the mock cluster. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            const p = c.proc;
            if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGTERM');
          }),
      ),
    );
    await this.broker?.close();
    await this.influx?.influxd?.stop();
    this.mock?.close();
  }
}
