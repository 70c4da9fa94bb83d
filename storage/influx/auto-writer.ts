import { WriteError } from '../../core/errors.js';
import { ping, type ServerInfo } from './detect.js';
import { V1Writer } from './v1-writer.js';
import { V2Writer } from './v2-writer.js';
import type { InfluxTarget, LineWriter } from './writer.js';

/**
 * Picks the write API on first use: from config, or detected from `/ping` (so InfluxDB may be
 * down when the pipeline starts: writes fail as retriable and go to the spool until it answers).
 */
export class AutoWriter implements LineWriter {
  private inner?: LineWriter;
  server?: ServerInfo;

  constructor(private readonly target: InfluxTarget, private readonly forced: 'auto' | 'v1' | 'v2') {}

  get api(): 'v1' | 'v2' {
    return this.inner?.api ?? (this.forced === 'auto' ? 'v2' : this.forced);
  }

  private async resolve(): Promise<LineWriter> {
    if (this.inner) return this.inner;
    let api = this.forced;
    try {
      this.server = await ping(this.target.url, this.target.timeoutMs);
      if (api === 'auto') api = this.server.api;
    } catch (e) {
      throw new WriteError(`InfluxDB unreachable at ${this.target.url}: ${(e as Error).message}`, true);
    }
    const w = api === 'v1' ? new V1Writer(this.target) : new V2Writer(this.target);
    await w.init();
    this.inner = w;
    return w;
  }

  async init(): Promise<void> {
    await this.resolve();
  }

  async write(lines: string[]): Promise<void> {
    return (await this.resolve()).write(lines);
  }

  async close(): Promise<void> {
    await this.inner?.close();
  }
}
