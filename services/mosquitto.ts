import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianBinary } from './apt.js';
import { connect } from 'mqtt';
import { freePort } from './ports.js';
import { ServiceProcess, startOnFreshPorts } from './process.js';

/**
 * A private mosquitto 2.0 (Debian `mosquitto`) on loopback. Persistence is on and the queue of
 * an offline persistent session is unbounded, so a restarted pipeline finds every message.
 */
export class LocalMosquitto {
  readonly url: string;
  private readonly proc: ServiceProcess;

  private constructor(readonly dir: string, readonly port: number, bin: string) {
    this.url = `mqtt://127.0.0.1:${port}`;
    this.proc = new ServiceProcess('mosquitto', bin, ['-c', join(dir, 'mosquitto.conf')], join(dir, 'mosquitto.log'));
  }

  /** `auth`: a password file and an ACL file (anonymous clients refused), as a deployment runs it. */
  static async start(dir: string, port = 0, log?: (m: string) => void, auth?: { passwordFile: string; aclFile: string }): Promise<LocalMosquitto> {
    const bin = ensureDebianBinary('mosquitto', 'mosquitto', log);
    mkdirSync(dir, { recursive: true });
    return startOnFreshPorts(port !== 0, () => LocalMosquitto.startOnce(dir, port, bin, auth));
  }

  private static async startOnce(dir: string, port: number, bin: string, auth?: { passwordFile: string; aclFile: string }): Promise<LocalMosquitto> {
    const p = port || (await freePort());
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      `listener ${p} 127.0.0.1
${auth ? `allow_anonymous false\npassword_file ${auth.passwordFile}\nacl_file ${auth.aclFile}` : 'allow_anonymous true'}
user root
persistence true
persistence_location ${dir}/
autosave_interval 1
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
`,
    );
    const m = new LocalMosquitto(dir, p, bin);
    await m.start();
    return m;
  }

  async start(): Promise<void> {
    this.proc.start();
    await this.proc.waitReady(() => answersMqtt(this.url), 30_000, `mosquitto on port ${this.port}`);
  }

  get running(): boolean {
    return this.proc.running;
  }

  /** Makes mosquitto read its password file and ACL again (SIGHUP), as `jlpipe devices` asks of a deployment. */
  reload(): void {
    if (this.proc.pid) process.kill(this.proc.pid, 'SIGHUP');
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    return this.proc.stop(signal);
  }
}

/** Whether an MQTT server at `url` accepts a connection: an open port alone may be someone else's. */
function answersMqtt(url: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(url, { connectTimeout: timeoutMs, reconnectPeriod: 0, clientId: `jl-probe-${process.pid}-${Date.now()}` });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      c.end(true);
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    c.once('connect', () => done(true));
    // A refused login (a broker with a password file) is a broker answering.
    c.once('error', (e) => done([4, 5, 134, 135].includes(Number((e as { code?: unknown }).code))));
    c.once('close', () => done(false));
  });
}
