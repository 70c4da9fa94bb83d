import { describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../../app/config.js';
import type { Anomaly } from '../../../core/anomaly.js';
import { RegionAggregator } from '../../../processors/anomaly/region/aggregator.js';
import { RegionBuckets } from '../../../processors/anomaly/region/buckets.js';
import { KEEP_WINDOWS, type FloodPartial, type RegionFacts, type SilencePartial } from '../../../processors/anomaly/region/partials.js';

/**
 * The RegionAggregator on hand-made partials (as they come off Kafka), in reports of several
 * sources: once per window, once per outage, and sources that hold judgement back or no longer do.
 */
const cfg = loadPipelineConfig(defaultConfigFile(), {}).detection;
const W = cfg.flood.windowMs;
const B = cfg.silence.regionBucketMs;
const facts: RegionFacts = { sector: 'energy', region: '220100', code: 'JL-NL-0301-001', grade: 'important', criticalInfrastructure: true };
const TTL = 3000;

/** Source flood partial: 3 pairs expected once a window each, so three sources flood above factor x 3 + slack together. */
const flood = (window: number, n: number): FloodPartial => ({ detector: 'flood', ...facts, watermark: (window + 1) * W - 1, window, n, expected: 1, pairs: 3, eventMs: window * W + n });
const silence = (bucket: number, total: number, silent: number): SilencePartial => ({ detector: 'silence', ...facts, watermark: bucket * B + 500, bucket, total, silent });
/** Buckets `from`..`to` of one source's counts. */
const span = (from: number, to: number, total: number, silent: (b: number) => number) => Array.from({ length: to - from + 1 }, (_, i) => silence(from + i, total, silent(from + i)));

function aggregator(): { agg: RegionAggregator; out: Anomaly[]; report: (at: number, bySource: Record<string, (FloodPartial | SilencePartial)[]>) => void } {
  const agg = new RegionAggregator({ flood: cfg.flood, silence: cfg.silence }, { ttlMs: TTL, clock: () => 0 });
  const out: Anomaly[] = [];
  return {
    agg,
    out,
    report(at, bySource) {
      for (const [source, ps] of Object.entries(bySource)) agg.add(source, JSON.parse(JSON.stringify(ps)) as (FloodPartial | SilencePartial)[], at);
      agg.evaluate((a) => out.push(a), at);
    },
  };
}

describe('RegionAggregator', () => {
  const limit = cfg.flood.factor * 3 + cfg.flood.slack; // three sources, expected 1 each

  it('raises flood.region once per window across reports, also for a late window of another source', () => {
    const { out, report } = aggregator();
    report(1000, { a: [flood(100, 20)], b: [flood(100, 15)], c: [flood(100, limit - 35)] });
    expect(out).toEqual([]); // exactly at the limit
    report(2000, { a: [flood(100, 21)] });
    expect(out.map((a) => [a.detector, a.kind, Math.floor(a.eventMs / W), a.value])).toEqual([['flood', 'region', 100, limit + 1]]);
    expect(out[0]).toMatchObject({ regionWide: true, sector: 'energy', region: '220100', grade: 'important', criticalInfrastructure: true, category: 'network-attack' });
    // Counts only grow: later reports of the window fire nothing more.
    report(3000, { a: [flood(100, 30), flood(101, 1)], b: [flood(100, 16), flood(101, 2)] });
    expect(out).toHaveLength(1);
    // A window before the newest (c was behind) still fires, once.
    report(4000, { c: [flood(99, limit + 5)] });
    report(5000, { c: [flood(99, limit + 9), flood(101, 3)] });
    expect(out.map((a) => Math.floor(a.eventMs / W))).toEqual([100, 99]);
    // Windows far behind the newest are dropped: they fire no more.
    report(6000, { a: [flood(101 + KEEP_WINDOWS + 1, 1)] });
    report(7000, { a: [flood(100, 1000)], b: [flood(98, 1000)] });
    expect(out).toHaveLength(2);
  });

  it('sums the latest counts of each window, not the reports: a window reported again replaces, and the sources add up', () => {
    const { out, report } = aggregator();
    // Each reports its share several times (cumulative counts); none, nor the sum of one report's, is over.
    const share = Math.ceil((limit + 1) / 3);
    for (let i = 1; i <= share; i++) report(i, { a: [flood(7, i)] });
    report(100, { b: [flood(7, share)] });
    expect(out).toEqual([]);
    report(200, { c: [flood(7, share)] });
    expect(out.map((a) => a.value)).toEqual([3 * share]);
  });

  it('judges a bucket once every live source has moved past it; raises silence.region once per outage; a dead source holds nothing back after the TTL', () => {
    const { agg, out, report } = aggregator();
    // a and b: 10 devices each, all silent from bucket 3 on; c: 2 devices, never silent, and dies after bucket 1.
    const down = (b: number) => (b >= 3 ? 10 : 0);
    report(1000, { a: span(0, 1, 10, down), b: span(0, 1, 10, down), c: span(0, 1, 2, () => 0) });
    report(2000, { a: span(2, 8, 10, down), b: span(2, 8, 10, down) });
    // 20 of 22 are silent at bucket 3, but c has not moved past bucket 1: nothing beyond is judged.
    expect(out).toEqual([]);
    expect(agg.live(2000)).toEqual(['a', 'b', 'c']);
    report(4000, { a: [silence(9, 10, 10)], b: [silence(9, 10, 10)] });
    expect(out).toEqual([]); // c still live (last heard at 1000, TTL 3000)
    report(4001, { a: [silence(10, 10, 10)] });
    expect(agg.live(4001)).toEqual(['a', 'b']);
    // Now c is gone: buckets up to 8 (b is at 9) are judged, the outage begins at bucket 3, once.
    expect(out.map((a) => [a.detector, a.kind, Math.floor(a.eventMs / B), a.value])).toEqual([['silence', 'region', 3, 20]]);
    expect(out[0].detail).toBe('20 of 20 energy devices in 220100 are silent: possible outage');
    report(5000, { a: span(11, 15, 10, () => 10), b: span(10, 15, 10, () => 10) });
    expect(out).toHaveLength(1);
    // It re-arms when the region comes back, and the next outage fires once more.
    const again = (b: number) => (b >= 16 && b < 18 ? 0 : 10);
    report(6000, { a: span(16, 25, 10, again), b: span(16, 25, 10, again) });
    expect(out.map((a) => Math.floor(a.eventMs / B))).toEqual([3, 18]);
    expect(agg.devicesOnline(6000)).toEqual({ 'energy/220100': 0 });
  });

  it('sums each source at its own latest bucket <= b: a source without a tick in b holds its earlier counts; counts of later buckets never mix in', () => {
    const { out, report } = aggregator();
    // a ticks rarely (buckets 0 and 5), b every bucket. a's devices are silent at 5 only.
    report(1000, { a: [silence(0, 2, 0), silence(5, 2, 2)], b: span(0, 3, 8, (q) => (q >= 2 ? 8 : 0)) });
    // b is at 3: buckets 0..2 are judged with a's counts of bucket 0 (not its later ones): 8 of 10 at bucket 2.
    expect(out.map((a) => [Math.floor(a.eventMs / B), a.value])).toEqual([[2, 8]]);
  });

  it('a source far ahead does not lend its later counts: nothing is judged beyond the slowest live source', () => {
    const { out, report } = aggregator();
    // a is 20 min ahead and its devices are silent there; b's are silent now. Each is half the region.
    report(1000, { a: span(0, 120, 5, (q) => (q >= 100 ? 5 : 0)), b: span(0, 20, 5, (q) => (q >= 10 ? 5 : 0)) });
    expect(out).toEqual([]);
    // b comes to bucket 100 with its devices back since 30: no bucket has both halves silent.
    report(2000, { b: span(21, 121, 5, (q) => (q < 30 ? 5 : 0)) });
    expect(out).toEqual([]);
  });

  it('a source whose devices in a region are gone (handed over) reports the region once with none, and holds nothing back there', () => {
    const buckets = new RegionBuckets(B);
    const key = 'energy/220100';
    buckets.tick(5 * B, new Map([[key, { facts, total: 4, silent: 0 }]]));
    buckets.tick(6 * B, new Map());
    buckets.tick(7 * B, new Map());
    const gone = buckets.take();
    expect(gone.map((p) => [p.bucket, p.total, p.silent])).toEqual([[5, 4, 0], [6, 0, 0]]);
    expect(buckets.take()).toEqual([]);

    const { agg, out, report } = aggregator();
    report(1000, { a: gone, b: span(0, 9, 4, (q) => (q >= 7 ? 4 : 0)) });
    expect(agg.devicesOnline(1000)).toEqual({ [key]: 0 });
    // b alone judges up to bucket 8: its 4 of 4 silent from 7 on are an outage.
    expect(out.map((a) => [Math.floor(a.eventMs / B), a.value, a.detail])).toEqual([[7, 4, '4 of 4 energy devices in 220100 are silent: possible outage']]);
  });
});
