import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ping } from '../storage/influx/detect.js';
import { ensureDebianBinary } from './apt.js';
import { freePort } from './ports.js';
import { ServiceProcess, startOnFreshPorts } from './process.js';

/** A private InfluxDB 1.x (Debian `influxdb`) on loopback, with its data in `dir`. */
export class LocalInfluxd {
  readonly url: string;
  private readonly proc: ServiceProcess;

  private constructor(readonly dir: string, readonly port: number, bin: string) {
    this.url = `http://127.0.0.1:${port}`;
    this.proc = new ServiceProcess('influxd', bin, ['-config', join(dir, 'influxdb.conf')], join(dir, 'influxd.log'));
  }

  /** Writes a config for `dir` and starts influxd; `port` 0 picks a free one. */
  static async start(dir: string, port = 0, log?: (m: string) => void): Promise<LocalInfluxd> {
    const bin = ensureDebianBinary('influxd', 'influxdb', log);
    mkdirSync(dir, { recursive: true });
    return startOnFreshPorts(port !== 0, () => LocalInfluxd.startOnce(dir, port, bin));
  }

  private static async startOnce(dir: string, port: number, bin: string): Promise<LocalInfluxd> {
    const httpPort = port || (await freePort());
    const rpcPort = await freePort();
    writeFileSync(
      join(dir, 'influxdb.conf'),
      `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${join(dir, 'meta')}"
[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
`,
    );
    const s = new LocalInfluxd(dir, httpPort, bin);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    this.proc.start();
    await this.proc.waitReady(async () => (await ping(this.url, 500)).version !== '', 60_000, `influxd on ${this.url}`);
  }

  /** The server's process id (for CPU readings in benchmarks). */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.running;
  }

  /** SIGTERM by default; SIGKILL simulates a crash. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    return this.proc.stop(signal);
  }
}
