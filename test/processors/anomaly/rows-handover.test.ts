import { describe, expect, it } from 'vitest';
import type { Anomaly } from '../../../core/anomaly.js';
import type { DeviceSnapshot } from '../../../processors/anomaly/engine.js';
import type { FloodPartial } from '../../../processors/anomaly/region/partials.js';
import { defaultConfigFile, loadPipelineConfig } from '../../../app/config.js';
import { ScoringCore } from '../../../processors/anomaly/score/core.js';
import { coreParams } from '../../../processors/anomaly/spike/params.js';
import { Harness } from './harness.js';

// Found by an outside review of the state-as-rows change (issue 12): each case failed before its fix.
describe('per-device rows through hand-over, errors and older snapshots', () => {
  const soil = (h: Harness, n = 1) => h.device('soil', '220100', n);

  it('flood counts a device once in its region however often its partition is revoked and given back', () => {
    const h = new Harness((c) => {
      c.regionPartials = true;
    });
    const devices = [1, 2, 3].map((n) => soil(h, n));
    let t = Date.UTC(2026, 5, 1);
    const round = () => {
      for (const d of devices) h.send(d, 'soil', t, h.normal(d, 'soil', t));
      t += h.cycleMs('soil', 'agri');
    };
    const pairs = () => (h.engine.regionPartials().filter((p) => p.detector === 'flood' && p.region === '220100') as FloodPartial[]).at(-1)?.pairs;
    round();
    expect(pairs()).toBe(3);
    for (let cycle = 0; cycle < 3; cycle++) {
      for (const d of devices) {
        const snap = JSON.parse(JSON.stringify(h.engine.snapshotDevice(d.id))) as DeviceSnapshot;
        h.engine.forgetDevice(d.id);
        expect(h.engine.restoreDevice(d.id, snap)).toBe(true);
      }
      round();
      expect(pairs(), `after hand-over ${cycle + 1}`).toBe(3);
    }
  });

  it('silence scans again after an emit that failed, so later silences are still raised', () => {
    const h = new Harness();
    const devices = [1, 2, 3, 4].map((n) => soil(h, n));
    let t = Date.UTC(2026, 5, 1);
    for (let k = 0; k < 3; k++, t += h.cycleMs('soil', 'agri')) for (const d of devices) h.send(d, 'soil', t, h.normal(d, 'soil', t));
    // The first anomaly's consumer throws (the engine logs and counts it); the others must still come.
    const push = h.anomalies.push.bind(h.anomalies);
    h.anomalies.push = (..._a: Anomaly[]) => {
      h.anomalies.push = push;
      throw new Error('incident store down');
    };
    for (let s = 0; s < 6 * 3600; s += 60) {
      h.clock = t + s * 1000;
      h.engine.tick(h.clock);
    }
    expect(h.engine.stats().errors).toBe(1);
    expect(h.anomalies.filter((a) => a.detector === 'silence' && a.kind === 'device')).toHaveLength(3);
    expect(h.anomalies.filter((a) => a.detector === 'silence' && a.kind === 'region')).toHaveLength(1);
  });

  it('restores a spike state saved by the previous release (one number less per field)', () => {
    const h = new Harness();
    const d = soil(h);
    let t = Date.UTC(2026, 5, 1);
    for (let k = 0; k < 30; k++, t += h.cycleMs('soil', 'agri')) h.send(d, 'soil', t, h.normal(d, 'soil', t));
    const snap = JSON.parse(JSON.stringify(h.engine.snapshotDevice(d.id))) as DeviceSnapshot & { detectors: { spike: [string, number, number[]][] } };
    // The previous layout: each field's block without the number at header index 13.
    const cfg = loadPipelineConfig(defaultConfigFile(), {}).detection.spike;
    const starts: number[] = [];
    let at = 0;
    for (const field of cfg.fields.agri_soil) {
      starts.push(at);
      at += new ScoringCore(coreParams(cfg, 'agri_soil', field)).size;
    }
    const row = snap.detectors.spike[0][2];
    expect(row).toHaveLength(at);
    const header13 = new Set(starts.map((s) => s + 13));
    const old = structuredClone(snap);
    old.detectors.spike[0][2] = row.filter((_, i) => !header13.has(i));
    const fresh = new Harness();
    expect(fresh.engine.restoreDevice(d.id, old)).toBe(true);
    const restored = fresh.engine.snapshotDevice(d.id) as typeof snap;
    expect(restored.detectors.spike[0][2]).toEqual(row.map((x, i) => (header13.has(i) ? 0 : x)));
  });

  it('says a spike is a lasting level shift once, even with out-of-order readings inside the event', () => {
    const h = new Harness();
    const d = soil(h);
    const cycle = h.cycleMs('soil', 'agri');
    let t = Date.UTC(2026, 5, 1, 8);
    for (let k = 0; k < 2000; k++, t += cycle) h.send(d, 'soil', t, h.normal(d, 'soil', t));
    const ec = Number(h.normal(d, 'soil', t).ec);
    for (let k = 0; k < 30; k++, t += cycle) {
      const data = { ...h.normal(d, 'soil', t), ec: ec * 3 };
      h.send(d, 'soil', t, data);
      if (k > 0) h.send(d, 'soil', t - 30_000, { ...data }); // older than the newest, within the allowed lateness
    }
    const said = h.anomalies.filter((a) => a.detector === 'spike' && a.field === 'ec').map((a) => a.kind);
    expect(said).toEqual(['spike', 'level_shift']);
  });

  it('refuses a snapshot whose entries are newer than the device itself, and keeps no state from it', () => {
    const h = new Harness();
    const [a, b] = [soil(h, 1), soil(h, 2)];
    const t = Date.UTC(2026, 5, 1);
    h.send(a, 'soil', t, h.normal(a, 'soil', t));
    const snap = JSON.parse(JSON.stringify(h.engine.snapshotDevice(a.id))) as DeviceSnapshot & { detectors: { replay: [string, number, unknown][] } };
    snap.detectors.replay[0][1] = t + 86_400_000;
    const other = new Harness();
    expect(other.engine.restoreDevice(a.id, snap)).toBe(false);
    expect(other.engine.snapshotDevice(a.id)).toBeUndefined();
    other.send(b, 'soil', t, other.normal(b, 'soil', t));
    expect(other.anomalies.filter((x) => x.device === b.id)).toEqual([]);
  });
});
