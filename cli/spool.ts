import { join } from 'node:path';
import { pino } from 'pino';
import type { PipelineConfig } from '../config/pipeline.js';
import { Ledger } from '../core/ledger.js';
import { AutoWriter } from '../storage/influx/auto-writer.js';
import { InfluxSink } from '../storage/influx/sink.js';
import { Spool } from '../storage/spool/spool.js';

const openSpool = (c: PipelineConfig) => new Spool(join(c.dataDir, 'spool'), { maxBytes: c.spool.maxBytes, segmentBytes: c.spool.segmentBytes });

/** Records, points and bytes waiting in the spool, per source. */
export async function inspectSpool(c: PipelineConfig) {
  const spool = openSpool(c);
  const pending = await spool.read(Number.MAX_SAFE_INTEGER);
  const sources: Record<string, number> = {};
  for (const rec of pending?.records ?? []) for (const [s, n] of Object.entries(rec.sources)) sources[s] = (sources[s] ?? 0) + n;
  await spool.close();
  return { dir: spool.dir, bytes: spool.size, records: pending?.records.length ?? 0, points: Object.values(sources).reduce((a, b) => a + b, 0), sources };
}

/** Replays the spool into InfluxDB with the pipeline stopped; progress on stderr. */
export async function replaySpool(c: PipelineConfig): Promise<void> {
  if (!c.influx.url) throw new Error('no InfluxDB configured: set JL_INFLUX_URL');
  const log = pino({ level: 'info' });
  const spool = openSpool(c);
  const before = spool.size;
  const ledger = new Ledger();
  const writer = new AutoWriter({ ...c.influx, url: c.influx.url }, c.influx.api);
  const sink = new InfluxSink(writer, spool, ledger, log, { ...c.influx, ...c.spool }, async (_rec, detail) => {
    throw new Error(`InfluxDB refused a spooled record: ${detail}`);
  });
  const done = await sink.drainSpool(24 * 3600 * 1000);
  await sink.close();
  log.info({ replayedBytes: before - spool.size, points: ledger.totals().stored, remaining: spool.size }, done ? 'spool replayed' : 'spool replay incomplete');
}
