import { describe, expect, it, onTestFinished } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { Ledger, OVERFLOW_SOURCE } from '../../core/ledger.js';
import { MessageFactory } from '../../ingest/simulator/simulator.js';
import { countAllPoints } from '../helpers/influx.js';
import { deadLetters, publishAll, testConfig, testLogger, waitUntil, writeFleet } from '../helpers/pipeline.js';
import { tempDir, useServices } from '../helpers/services.js';

// Security review (issue 10), row 4: the ledger key comes from the topic, so a client could
// grow the ledger and /metrics without bound. The ledger keeps at most `maxSources` keys; later
// keys are counted under one overflow key, and totals stay exact.
describe('ledger bounds', () => {
  it('folds keys past the cap into the overflow key; totals and per-key balance stay exact', () => {
    const ledger = new Ledger({ maxSources: 3 });
    for (const s of ['a/1/x', 'b/1/x', 'c/1/x', 'd/1/x', 'e/1/x', 'a/1/x']) ledger.received(s);
    ledger.stored('a/1/x', 2);
    ledger.deadLettered('d/1/x', 'unknown_device'); // folded: counted where its `received` went
    ledger.spooled('e/1/x', 1);
    ledger.replayed('e/1/x', 1);
    ledger.deadLettered('b/1/x', 'unknown_device');
    ledger.nacked('c/1/x');
    const snap = ledger.snapshot();
    expect(Object.keys(snap.sources).sort()).toEqual(['a/1/x', 'b/1/x', 'c/1/x', OVERFLOW_SOURCE].sort());
    expect(snap.sources[OVERFLOW_SOURCE]).toEqual({ received: 2, stored: 1, deadLettered: 1, inSpool: 0, nacked: 0 });
    expect(snap.totals).toEqual({ received: 6, stored: 3, deadLettered: 2, inSpool: 0, nacked: 1 });
    expect(snap.overflow).toEqual({ maxSources: 3, folded: 2 });
    for (const c of Object.values(snap.sources)) expect(c.received).toBe(c.stored + c.deadLettered + c.inSpool + c.nacked);
  });

  describe('through the real pipeline', () => {
    const svc = useServices();

    it('20,000 junk topics: /metrics stays small, totals exact and balanced, junk dead-lettered with its topic', async () => {
      const dataDir = tempDir();
      const { file, fleet } = writeFleet(dataDir, 27);
      const config = testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir, devices: file });
      config.delivery.maxUnackedAgeMs = 120_000;
      const pipeline = await Pipeline.start(config, { logger: testLogger() });
      onTestFinished(() => pipeline.stop());
      await waitUntil(() => pipeline.ready().ok, 10_000, 'pipeline ready');

      // Valid traffic first: its sources hold keys of their own before the junk arrives.
      const factory = new MessageFactory(fleet, 4);
      const valid = Array.from({ length: 200 }, (_, i) => {
        const m = factory.next(Date.now() - 60_000 + i);
        return { topic: m.topic, payload: JSON.stringify(m.payload) };
      });
      await publishAll(svc.mqttUrl, valid);
      await waitUntil(() => pipeline.ledger.totals().stored === 200, 20_000, 'valid data stored');

      // Well-formed topics whose message types exist nowhere: each one a distinct ledger key.
      const junk = Array.from({ length: 20_000 }, (_, i) => ({ topic: `jl/agri/220100/dev-${i % 50}/junk_${i.toString(36)}_type`, payload: '{"ts":1,"seq":1,"data":{}}' }));
      await publishAll(svc.mqttUrl, junk);
      await waitUntil(() => pipeline.ledger.totals().received === 20_200 && pipeline.runtime.health().pending === 0, 60_000, 'all settled');

      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${pipeline.httpPort}/metrics`);
      const metrics = await res.text();
      const scrapeMs = performance.now() - t0;
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(metrics)).toBeLessThan(2_000_000);
      expect(scrapeMs).toBeLessThan(2000);
      expect(metrics).toMatch(/^jl_messages_received_total\{sector="_other",region="_",type="_"\} \d+$/m);
      expect(metrics).toMatch(/^jl_ledger_folded_messages_total \d+$/m);

      const stats = pipeline.stats();
      expect(stats.totals).toEqual({ received: 20_200, stored: 200, deadLettered: 20_000, inSpool: 0, nacked: 0 });
      expect(stats.balanced).toBe(true);
      expect(Object.keys(stats.sources).length).toBeLessThanOrEqual(10_001);
      expect(stats.overflow.folded).toBeGreaterThan(0);
      for (const c of Object.values(stats.sources)) expect(c.received).toBe(c.stored + c.deadLettered + c.inSpool + c.nacked);
      // Valid sources came first and keep their own series.
      const validSource = /^jl\/(\w+)\/(\d+)\/[^/]+\/(\w+)$/.exec(valid[0].topic)!;
      expect(stats.sources[`${validSource[1]}/${validSource[2]}/${validSource[3]}`]?.stored).toBeGreaterThan(0);

      // Every junk message is still dead-lettered under its own, real topic.
      const letters = deadLetters(dataDir);
      expect(letters).toHaveLength(20_000);
      expect(new Set(letters.map((l) => l.topic))).toEqual(new Set(junk.map((j) => j.topic)));
      expect(await countAllPoints(svc.influxUrl, config.influx.database)).toBe(200);
    });
  });
});
