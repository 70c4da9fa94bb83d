import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PipelineConfig } from './config.js';
import { LocalInfluxd } from '../services/influxd.js';
import { portOpen } from '../services/ports.js';
import { AutoWriter } from '../storage/influx/auto-writer.js';

/** The InfluxDB the pipeline writes to: its URL and writer, and the local influxd when we started one. */
export interface InfluxConnection {
  url?: string;
  writer?: AutoWriter;
  influxd?: LocalInfluxd;
}

/**
 * Connects to the configured InfluxDB, or (the demo, `npm start`) starts a local influxd when
 * none is configured. InfluxDB may be down at start: writes then go to the spool until it answers.
 */
export async function connectInflux(c: PipelineConfig, localInflux: boolean, log: Logger): Promise<InfluxConnection> {
  let url = c.influx.url ?? undefined;
  let influxd: LocalInfluxd | undefined;
  if (!url && localInflux) {
    const port = (await portOpen(8086)) ? 0 : 8086;
    try {
      influxd = await LocalInfluxd.start(join(c.dataDir, 'influxdb'), port, (m) => log.warn(m));
      url = influxd.url;
      log.info({ url }, 'no InfluxDB configured: local influxd started');
    } catch (e) {
      log.error({ err: (e as Error).message }, 'no InfluxDB configured and no local influxd could be started: data is kept in the spool until JL_INFLUX_URL is set');
    }
  } else if (!url) {
    log.error('no InfluxDB configured (JL_INFLUX_URL): data is kept in the spool');
  }
  if (!url) return { influxd };
  const writer = new AutoWriter({ ...c.influx, url }, c.influx.api);
  try {
    await writer.init();
    log.info({ url, version: writer.server?.version, api: writer.api }, 'InfluxDB ready');
  } catch (e) {
    log.error({ url, err: (e as Error).message }, 'InfluxDB not reachable at start: spooling until it is');
  }
  return { url, writer, influxd };
}
