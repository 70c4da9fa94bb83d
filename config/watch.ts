import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { ConfigError } from '../core/errors.js';
import { loadCatalogue, type Catalogue } from './catalogue.js';
import { loadRegistry, type Registry } from './devices.js';

export interface ReloadStatus {
  reloads: number;
  failures: number;
  lastError?: string;
}

/**
 * Hot reload of the catalogue and the device registry. On a change the files are loaded and
 * checked as at start; a good pair replaces the running one through `apply`, a bad file is
 * refused with its precise error and the running pipeline keeps the last good version.
 */
export class ConfigWatcher {
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  readonly status: ReloadStatus = { reloads: 0, failures: 0 };

  constructor(
    private readonly catalogueFile: string,
    private readonly registryFile: string,
    private readonly apply: (catalogue: Catalogue, registry: Registry) => void,
    private readonly log: Logger,
  ) {}

  start(extraFiles: string[] = []): Promise<void> {
    this.watcher = watch([this.catalogueFile, this.registryFile, ...extraFiles], { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 20 } });
    this.watcher.on('all', () => {
      // Editors write in several steps: reload once things settle.
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), 50);
    });
    return new Promise((r) => this.watcher!.once('ready', () => r()));
  }

  /** Loads both files now; returns whether the new version was applied. */
  reload(): boolean {
    try {
      const catalogue = loadCatalogue(this.catalogueFile);
      const registry = loadRegistry(this.registryFile, catalogue);
      this.apply(catalogue, registry);
      this.status.reloads++;
      this.status.lastError = undefined;
      this.log.info({ version: catalogue.version, entries: catalogue.entries.length, devices: registry.size }, 'catalogue and registry reloaded');
      return true;
    } catch (e) {
      this.status.failures++;
      this.status.lastError = e instanceof ConfigError ? e.message : String(e);
      this.log.error({ err: this.status.lastError }, 'config reload refused; keeping the last good version');
      return false;
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.watcher?.close();
  }
}
