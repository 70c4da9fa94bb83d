import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';

/** A server process started by us, with its log in a file. */
export class ServiceProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    readonly name: string,
    private readonly cmd: string,
    private readonly args: string[],
    private readonly logFile: string,
  ) {}

  start(): void {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    // Own process group: a Ctrl-C meant for the pipeline must not stop the server before the pipeline has flushed.
    const child = spawn(this.cmd, this.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    // Two streams into one file: neither may end it, or the other writes after its end.
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    this.child = child;
    const closed = new Promise<void>((r) => child.once('close', () => log.end(r)));
    this.exited = new Promise<void>((r) => child.once('exit', () => r())).then(() => closed);
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Waits until `check` passes. Fails at once, with the end of the server's log, when the
   * server exits first (a port taken between picking and binding it, a bad config), rather
   * than polling a dead process until the time is up.
   */
  async waitReady(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
    try {
      await waitUntil(async () => {
        if (!this.running) throw new ServiceExited(`${this.name} exited before it was ready`);
        return check();
      }, timeoutMs, what);
    } catch (e) {
      // A server that never became ready is not left running; the log is complete once its streams are closed.
      if (e instanceof ServiceExited) await this.exited;
      else await this.stop('SIGKILL');
      const tail = this.logTail();
      throw Object.assign(e as Error, { message: `${(e as Error).message}${tail ? `; ${this.logFile} ends:\n${tail}` : ''}` });
    }
  }

  private logTail(lines = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stops with `signal` (SIGTERM: clean; SIGKILL: a crash) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child!.kill(signal);
    const t = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** The server process ended while we waited for it to be ready. */
export class ServiceExited extends Error {}

/** Polls `check` until it returns true or the time is up; a ServiceExited from `check` ends the wait. */
export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      if (e instanceof ServiceExited) throw e;
      /* not yet */
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Starts a server on ports picked just before, trying fresh ports when it exits at start-up:
 * another process can take a picked port before the server binds it. A fixed port (the
 * caller's choice) is tried once.
 */
export async function startOnFreshPorts<T>(fixedPort: boolean, start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start();
    } catch (e) {
      if (fixedPort || i >= attempts || !(e instanceof ServiceExited)) throw e;
    }
  }
}
