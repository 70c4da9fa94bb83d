import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { Catalogue, CatalogueView } from '../core/catalogue.js';
import type { Registry } from '../core/device.js';
import { ConfigError } from '../core/errors.js';
import { checkFieldTypesKept, loadCatalogue } from './catalogue.js';
import { loadRegistry } from './devices.js';

export interface ReloadStatus {
  reloads: number;
  failures: number;
  lastError?: string;
}

/**
 * The catalogue and the device registry in force, reloaded when their files change. A change
 * is loaded and checked as at start; a good pair replaces the running one (readers call
 * `catalogue()` and `registry()` each time, so they see it at once) and `reloaded` is emitted;
 * a bad file is refused with its precise error and the last good version stays, and so is a
 * catalogue that changes the InfluxDB type of a running measurement's field.
 */
export class LiveConfig extends EventEmitter<{ reloaded: [catalogue: Catalogue, registry: Registry] }> implements CatalogueView {
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  readonly status: ReloadStatus = { reloads: 0, failures: 0 };

  private constructor(
    private readonly catalogueFile: string,
    private readonly registryFile: string,
    private current: { catalogue: Catalogue; registry: Registry },
    private readonly log: Logger,
  ) {
    super();
  }

  /** Loads both files (throwing ConfigError on a bad one) and starts watching them and the supplements. */
  static async load(catalogueFile: string, registryFile: string, log: Logger): Promise<LiveConfig> {
    const catalogue = loadCatalogue(catalogueFile);
    const live = new LiveConfig(catalogueFile, registryFile, { catalogue, registry: loadRegistry(registryFile, catalogue) }, log);
    await live.watch(catalogue.entries.map((e) => e.file).filter((f) => f !== catalogue.file));
    return live;
  }

  catalogue(): Catalogue {
    return this.current.catalogue;
  }

  registry(): Registry {
    return this.current.registry;
  }

  private watch(extraFiles: string[]): Promise<void> {
    const watcher = watch([this.catalogueFile, this.registryFile, ...extraFiles], { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 20 } });
    this.watcher = watcher;
    watcher.on('all', () => {
      // Editors write in several steps: reload once things settle.
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), 50);
    });
    return new Promise((r) => watcher.once('ready', () => r()));
  }

  /** Loads both files now; returns whether the new version was applied. */
  reload(): boolean {
    try {
      const catalogue = loadCatalogue(this.catalogueFile);
      checkFieldTypesKept(this.current.catalogue, catalogue);
      const registry = loadRegistry(this.registryFile, catalogue);
      this.current = { catalogue, registry };
      this.status.reloads++;
      this.status.lastError = undefined;
      this.log.info({ version: catalogue.version, entries: catalogue.entries.length, devices: registry.size }, 'catalogue and registry reloaded');
      this.emit('reloaded', catalogue, registry);
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
