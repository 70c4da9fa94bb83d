import { join } from 'node:path';
import { makeLogger } from '../app/logger.js';
import type { PipelineConfig } from '../app/config.js';
import { Ledger } from '../core/ledger.js';
import { HealthTracker } from '../core/runtime/health.js';
import { spooledRejections } from '../core/runtime/letters.js';
import { SpoolReplayer } from '../core/runtime/replay.js';
import { Stopper } from '../core/runtime/stopper.js';
import { DeadLetterSink } from '../deadletter/sink.js';
import { AutoWriter } from '../storage/influx/auto-writer.js';
import { InfluxOutput } from '../storage/influx/output.js';
import { Spool } from '../storage/spool/spool.js';

const openSpool = (c: PipelineConfig) => new Spool(join(c.dataDir, 'spool'), { maxBytes: c.spool.maxBytes, segmentBytes: c.spool.segmentBytes });

/** Bytes and points waiting in the spool, per source (from the spool's persisted counts). */
export async function inspectSpool(c: PipelineConfig) {
  const spool = openSpool(c);
  const sources = spool.pending();
  await spool.close();
  return { dir: spool.dir, bytes: spool.size, points: Object.values(sources).reduce((a, b) => a + b, 0), sources };
}

/**
 * Replays the spool into InfluxDB with the pipeline stopped, as the running pipeline would:
 * a record InfluxDB refuses as written goes to the dead letters. Progress on stderr.
 */
export async function replaySpool(c: PipelineConfig): Promise<void> {
  if (!c.influx.url) throw new Error('no InfluxDB configured: set JL_INFLUX_URL');
  const log = makeLogger('info');
  const spool = openSpool(c);
  const before = spool.size;
  const ledger = new Ledger();
  const writer = new AutoWriter({ ...c.influx, url: c.influx.url }, c.influx.api);
  const deadLetters = new DeadLetterSink(join(c.dataDir, 'dlq'), c.deadLetter.payloadLimit, log);
  const stopper = new Stopper();
  const replayer = new SpoolReplayer(spool, new InfluxOutput(writer), (rec, refused) => deadLetters.write(spooledRejections(rec, refused, Date.now())), ledger, new HealthTracker(log), log, { ...c.spool }, stopper);
  replayer.kick();
  const until = Date.now() + 24 * 3600 * 1000;
  while (!spool.isEmpty() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  stopper.stop();
  await replayer.done();
  await Promise.all([spool.close(), deadLetters.close(), writer.close()]);
  const t = ledger.totals();
  log.info({ replayedBytes: before - spool.size, points: t.stored, deadLettered: t.deadLettered, remaining: spool.size }, spool.isEmpty() ? 'spool replayed' : 'spool replay incomplete');
}
