import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { detect, nabParams, runNab } from '../../evaluation/nab/run.js';
import { fixedScore, groupNabScores, groupOf, nabScores, PROFILES, probationaryRows, scaledSigmoid, scoreAtThreshold, sweep, type ScoredFile } from '../../evaluation/nab/scorer.js';
import { tempDir } from '../helpers/services.js';

const file = (marks: Record<number, number>, windows: [number, number][] = [[40, 49]], rows = 100): ScoredFile => ({ name: 'f.csv', windows, scores: Array.from({ length: rows }, (_, i) => marks[i] ?? 0) });
const std = PROFILES.standard;

describe('NAB scorer (hand-computed fixtures)', () => {
  it('probation is 15 % of the rows, at most 750', () => {
    expect([probationaryRows(100), probationaryRows(10_000)]).toEqual([15, 750]);
  });

  it('the scaled sigmoid: ~1 at a window start, 0 at its end, -1 far after', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(3.5)).toBe(-1);
  });

  it('an early detection scores more than a late one; only the earliest in a window counts', () => {
    // NAB divides a TP's sigmoid weight by its maximum: the first row of a window earns A_TP = 1.
    expect(sweep([file({ 40: 1 })], std).score).toBeCloseTo(1, 6);
    expect(sweep([file({ 49: 1 })], std).score).toBeCloseTo((2 / (1 + Math.exp(-0.5)) - 1) / scaledSigmoid(-1), 5); // scaledSigmoid(-0.1) / max
    expect(sweep([file({ 40: 1, 45: 1, 49: 1 })], std)).toMatchObject({ tp: 1, fp: 0 });
    expect(sweep([file({ 40: 1, 45: 1, 49: 1 })], std).score).toBeCloseTo(1, 6);
  });

  it('false positives: -A_FP before any window, weighted by distance after one, ignored in probation; misses cost A_FN', () => {
    expect(sweep([file({ 20: 1, 40: 1 })], std).score).toBeCloseTo(1 - 0.11, 6);
    expect(sweep([file({ 5: 1, 40: 1 })], std).score).toBeCloseTo(1, 6);
    const after = scaledSigmoid(1 / 9);
    expect(sweep([file({ 40: 1, 50: 1 })], std).score).toBeCloseTo(1 + 0.11 * after, 6);
    expect(sweep([file({ 40: 1 }, [[40, 49], [70, 79]])], PROFILES.reward_low_FN_rate).score).toBeCloseTo(1 - 2, 6);
  });

  it('sweeps the threshold corpus-wide and normalises: null 0, perfect 100', () => {
    const r = sweep([file({ 40: 0.9, 20: 0.5 })], std);
    expect(r.threshold).toBe(0.9);
    expect(r).toMatchObject({ tp: 1, fp: 0, fn: 0 });
    expect(nabScores([file({})]).standard.normalised).toBe(0);
    expect(nabScores([file({ 40: 1 })]).standard.normalised).toBeCloseTo(100, 6);
    const s = nabScores([file({ 45: 0.7, 20: 0.8 })]).standard; // one late TP and an earlier, stronger FP
    expect(s.threshold).toBe(0.7);
    expect(s.normalised).toBeGreaterThan(0);
    expect(s.normalised).toBeLessThan(100);
  });
});

describe('NAB scorer: edge rules, a fixed threshold, per group (hand-computed fixtures)', () => {
  it('a window wholly inside the probation costs nothing (detector and null), yet counts in the perfect score (NAB: tpCount * A_TP)', () => {
    const windows: [number, number][] = [[5, 10], [40, 49]]; // probation: rows 0-14
    const none = nabScores([file({}, windows)]).standard;
    expect(none).toMatchObject({ null: -1, perfect: 2, fn: 1, normalised: 0 });
    const hit = nabScores([file({ 40: 1 }, windows)]).standard;
    expect(hit).toMatchObject({ score: 1, tp: 1, fn: 0 });
    expect(hit.normalised).toBeCloseTo((100 * (1 + 1)) / (2 + 1), 9);
  });

  it('fixedScore: scores >= 1 are the detections, no sweep (so it can be worse than detecting nothing)', () => {
    expect(fixedScore([file({ 20: 1, 25: 1, 40: 1 })], std)).toBeCloseTo(1 - 2 * 0.11, 9);
    expect(fixedScore([file({ 20: 1, 25: 1, 30: 1 })], std)).toBeCloseTo(-1 - 3 * 0.11, 9);
  });

  it('scoreAtThreshold: the detections at that threshold only, normalised as nabScores, below 0 when worse than nothing', () => {
    const f = file({ 40: 0.9, 20: 0.5, 45: 0.3 });
    // Rows 40 (TP, weight 1) and 20 (FP before any window, -A_FP); row 45 is below 0.4.
    expect(scoreAtThreshold([f], 'standard', 0.4)).toMatchObject({ threshold: 0.4, tp: 1, fp: 1, fn: 0, null: -1, perfect: 1 });
    expect(scoreAtThreshold([f], 'standard', 0.4).score).toBeCloseTo(0.89, 9);
    expect(scoreAtThreshold([f], 'standard', 0.4).normalised).toBeCloseTo((100 * (0.89 + 1)) / 2, 9);
    // A later detection in the same window (row 45) changes nothing.
    expect(scoreAtThreshold([f], 'standard', 0.2).score).toBeCloseTo(0.89, 9);
    expect(scoreAtThreshold([f], 'standard', 0.95)).toMatchObject({ score: -1, tp: 0, fp: 0, fn: 1, normalised: 0 });
    // Three FPs and a miss: -1.33, normalised 100 * -0.33 / 2; the sweep would detect nothing (0).
    const bad = file({ 20: 1, 25: 1, 30: 1 });
    expect(scoreAtThreshold([bad], 'standard', 0.5).normalised).toBeCloseTo(-16.5, 9);
    expect(nabScores([bad]).standard.normalised).toBe(0);
    // reward_low_FN_rate: a TP at the window's last row, scaledSigmoid(-0.1) / max; null -2, perfect 1.
    const late = (2 / (1 + Math.exp(-0.5)) - 1) / scaledSigmoid(-1);
    expect(scoreAtThreshold([file({ 49: 1 })], 'reward_low_FN_rate', 1).normalised).toBeCloseTo((100 * (late + 2)) / 3, 9);
    // At the sweep's own threshold it is the sweep's result.
    const s = nabScores([file({ 45: 0.7, 20: 0.8 })]).reward_low_FP_rate;
    expect(scoreAtThreshold([file({ 45: 0.7, 20: 0.8 })], 'reward_low_FP_rate', s.threshold)).toEqual(s);
    expect(() => scoreAtThreshold([f], 'nope', 0.5)).toThrow(/no NAB profile nope/);
  });

  it('per group: the folder of the name; each group alone at given thresholds, or at its own best', () => {
    expect([groupOf('realTraffic/speed_6005.csv'), groupOf('a/b/c.csv'), groupOf('c.csv')]).toEqual(['realTraffic', 'a/b', '']);
    const files: ScoredFile[] = [
      { ...file({ 40: 0.9, 60: 0.8 }), name: 'a/x.csv' },
      { ...file({}), name: 'a/y.csv' },
      { ...file({ 30: 0.85 }, []), name: 'b/z.csv' },
    ];
    const at = Object.fromEntries(Object.keys(PROFILES).map((p) => [p, 0.8]));
    const [a, b] = groupNabScores(files, at);
    // a: TP at x's window start (1), an FP 11 rows after a 10-row window (0.11 * scaledSigmoid(11/9)), y's window missed (-1).
    const aRaw = 1 + 0.11 * scaledSigmoid(11 / 9) - 1;
    expect(a).toMatchObject({ group: 'a', files: 2, windows: 2 });
    expect(a.profiles.standard).toMatchObject({ threshold: 0.8, tp: 1, fp: 1, fn: 1, null: -2, perfect: 2 });
    expect(a.profiles.standard.score).toBeCloseTo(aRaw, 9);
    expect(a.profiles.standard.normalised).toBeCloseTo((100 * (aRaw + 2)) / 4, 9);
    // b has no windows: its FP is counted (-A_FP), there is nothing to normalise against.
    expect(b).toMatchObject({ group: 'b', files: 1, windows: 0 });
    expect(b.profiles.standard).toMatchObject({ tp: 0, fp: 1, fn: 0, normalised: null });
    expect(b.profiles.standard.score).toBeCloseTo(-0.11, 9);
    // Own sweep: a keeps only its TP (threshold 0.9, raw 0, normalised 50); b detects nothing.
    const [a2, b2] = groupNabScores(files);
    expect(a2.profiles.standard).toMatchObject({ threshold: 0.9, tp: 1, fp: 0, fn: 1, score: 0, normalised: 50 });
    expect(b2.profiles.standard).toMatchObject({ threshold: Infinity, fp: 0, score: 0, normalised: null });
  });
});

describe('jlpipe nab on a fixture corpus', () => {
  const spike = loadPipelineConfig(defaultConfigFile(), {}).detection.spike;

  it('scores each point without look-ahead', () => {
    const series = Array.from({ length: 600 }, (_, i) => 10 + Math.sin(i / 20) + (i === 400 ? 8 : 0) + ((i * 7919) % 13) / 50);
    const run = (xs: number[]) => detect(nabParams(spike), { name: 'g/f.csv', group: 'g', stamps: [], ts: xs.map((_, i) => Date.UTC(2020, 0, 1) + i * 300_000), xs });
    const full = run(series);
    const prefix = run(series.slice(0, 401));
    expect(full.slice(0, 401)).toEqual(prefix);
    expect(full[400]).toBeGreaterThan(0.5);
    expect(Math.max(...full.slice(100, 390))).toBeLessThan(full[400]);
  });

  it('writes NAB-format results at the same relative paths and scores them with the windows', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'data', 'groupA'), { recursive: true });
    const t0 = Date.UTC(2020, 0, 1);
    const fmt = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
    const rows = Array.from({ length: 1000 }, (_, i) => `${fmt(t0 + i * 300_000)},${(20 + Math.sin(i / 30) + (i >= 700 && i < 705 ? 15 : 0) + ((i * 31) % 7) / 20).toFixed(3)}`);
    writeFileSync(join(dir, 'data', 'groupA', 'spiky.csv'), ['timestamp,value', ...rows].join('\n') + '\n');
    writeFileSync(join(dir, 'combined_windows.json'), JSON.stringify({ 'groupA/spiky.csv': [[`${fmt(t0 + 680 * 300_000)}.000000`, `${fmt(t0 + 720 * 300_000)}.000000`]] }));
    const out = join(dir, 'out');
    const r = runNab(dir, out, spike);
    expect(r).toMatchObject({ files: 1, rows: 1000 });
    const lines = readFileSync(join(out, 'groupA', 'spiky.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score');
    expect(lines).toHaveLength(1001);
    expect(lines[1].split(',')[0]).toBe(rows[0].split(',')[0]);
    expect(r.scores!.standard.tp).toBe(1);
    expect(r.scores!.standard.normalised).toBeGreaterThan(50);
    expect(JSON.parse(readFileSync(join(out, 'scores.json'), 'utf8')).scores.standard.normalised).toBe(r.scores!.standard.normalised);
  });
});
