import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { levelOf } from '../../alerts/grading.js';
import { verifyLog } from '../../alerts/incident-log.js';
import { IncidentManager, type IncidentsConfig } from '../../alerts/incidents.js';
import { incidentReportMarkdown } from '../../alerts/report.js';
import type { Anomaly } from '../../core/anomaly.js';
import { tempDir } from '../helpers/services.js';
import { anomaly, cfg, grading } from './fixtures.js';

/** A manager on a new log, for the current test: closed when the test ends (closing twice is fine). */
function manager(now = { t: 1_780_000_000_000 }, c: IncidentsConfig = cfg) {
  const file = join(tempDir(), 'incidents.log');
  const m = new IncidentManager(file, c, undefined, () => now.t);
  onTestFinished(() => m.close());
  return { m, file, now };
}

describe('grading', () => {
  // [category, grade, devices, regionWide, critical] -> level
  const cases: [Anomaly['category'], Anomaly['grade'], number, boolean, boolean, number][] = [
    ['device-fault', 'general', 1, false, false, 4],
    ['device-fault', 'important', 1, false, true, 4], // a fault does not put data at risk
    ['network-attack', 'general', 1, false, false, 4],
    ['network-attack', 'important', 1, false, false, 3],
    ['network-attack', 'core', 1, false, false, 2],
    ['data-security', 'important', 1, false, true, 3],
    ['device-fault', 'general', 10, false, false, 3],
    ['device-fault', 'general', 100, false, false, 2],
    ['device-fault', 'important', 0, true, true, 2], // a region of critical meters silent
    ['network-attack', 'core', 100, false, true, 1],
  ];
  for (const [category, grade, deviceCount, regionWide, criticalInfrastructure, level] of cases) {
    it(`${category}, ${grade}, ${deviceCount} device(s)${regionWide ? ', region-wide' : ''}${criticalInfrastructure ? ', critical' : ''} -> ${level}`, () => {
      expect(levelOf({ category, grade, deviceCount, regionWide, criticalInfrastructure }, 4, grading)).toBe(level);
    });
  }
});

describe('incident manager', () => {
  it('keeps the scoring evidence of the latest anomaly and shows it in the report', () => {
    const { m } = manager();
    const evidence = { view: 'daily', likelihood: 2e-16, expected: 10.1, noise: 1.2, z: 17.5, hour: 14 };
    m.observe({ ...anomaly({ detector: 'spike', kind: 'contextual', category: 'device-fault', grade: 'general' }), evidence, detail: 'temperature unusual for the time of day' });
    const inc = m.all()[0];
    expect(inc.lastEvidence).toEqual(evidence);
    expect(incidentReportMarkdown(inc)).toContain('Evidence (daily view): likelihood 2.0e-16, baseline 10.10, noise 1.2, residual 17.5 noise units, local hour 14.');
  });

  it('deduplicates by key, escalates with scope and sets the report-by deadline once reportable', () => {
    const { m, now } = manager();
    const events: string[] = [];
    m.on((e, i) => events.push(`${e}:${i.level}`));
    m.observe(anomaly({ detector: 'flatline', kind: 'stuck', category: 'device-fault', grade: 'general' }));
    m.observe(anomaly({ detector: 'flatline', kind: 'stuck', category: 'device-fault', grade: 'general' }));
    expect(m.list().total).toBe(1);
    const inc = m.list().items[0];
    expect([inc.level, inc.count, inc.deviceCount, inc.reportBy]).toEqual([4, 2, 1, undefined]);
    now.t += 1000;
    for (let d = 2; d <= 10; d++) m.observe(anomaly({ detector: 'flatline', kind: 'stuck', category: 'device-fault', grade: 'general', device: `soil-220100-${d}` }));
    expect(inc.level).toBe(3);
    expect(inc.reportBy).toBe(now.t + 4 * 3_600_000);
    expect(events).toEqual(['opened:4', 'escalated:3']);
  });

  it('critical infrastructure must report within 1 hour; a missed deadline is overdue until reported', () => {
    const { m, now } = manager();
    m.observe(anomaly({ detector: 'energy', kind: 'counter_decrease', category: 'data-security', criticalInfrastructure: true }));
    const inc = m.list().items[0];
    expect(inc.level).toBe(3);
    expect(inc.reportBy).toBe(now.t + 3_600_000);
    now.t += 3_600_001;
    m.tick();
    expect(inc.overdue).toBe(true);
    expect(m.list({ overdue: true }).total).toBe(1);
    m.acknowledge(inc.id, 'duty-officer', 'reported to the provincial CAC', true);
    expect([inc.state, inc.overdue, inc.reportedBy]).toEqual(['acknowledged', false, 'duty-officer']);
  });

  it('lifecycle: ack and resolve record who and when; a signal back soon reopens, later opens anew', () => {
    const { m, now } = manager();
    m.observe(anomaly());
    const inc = m.list().items[0];
    m.acknowledge(inc.id, 'alice');
    expect(() => m.acknowledge(inc.id, 'alice')).toThrow(/acknowledged, not open/);
    now.t += 5000;
    m.resolve(inc.id, 'bob', 'key rotated');
    expect([inc.state, inc.acknowledgedBy, inc.resolvedBy, inc.resolvedAt]).toEqual(['resolved', 'alice', 'bob', now.t]);
    expect(() => m.resolve(inc.id, 'bob')).toThrow(/already resolved/);
    now.t += 60_000;
    m.observe(anomaly()); // flapping back within the reopen window
    expect(m.list().total).toBe(1);
    expect([inc.state, inc.reopened]).toEqual(['open', 1]);
    m.resolve(inc.id, 'bob');
    now.t += 3_600_000;
    m.observe(anomaly());
    expect(m.list().total).toBe(2);
    expect(inc.timeline.map((t) => t.event)).toEqual(['opened', 'acknowledged', 'resolved', 'reopened', 'resolved']);
  });

  it('opens only after openAfter anomalies within the window (flap control)', () => {
    const { m, now } = manager(undefined, { ...cfg, openAfter: 3 });
    m.observe(anomaly());
    m.observe(anomaly());
    expect(m.list().total).toBe(0);
    now.t += 120_000; // window passed: counting starts again
    m.observe(anomaly());
    m.observe(anomaly());
    expect(m.list().total).toBe(0);
    m.observe(anomaly());
    expect(m.list().total).toBe(1);
  });

  it('state survives a restart: rebuilt from the log', () => {
    const { m, file, now } = manager();
    m.observe(anomaly());
    m.observe(anomaly({ detector: 'silence', kind: 'device', category: 'device-fault', device: 'soil-1' }));
    const [b, a] = m.list().items;
    m.acknowledge(a.id, 'alice');
    m.observe(anomaly({ device: 'meter-220100-0002' }));
    m.close();
    const again = new IncidentManager(file, cfg, undefined, () => now.t);
    onTestFinished(() => again.close());
    expect(again.list().items).toEqual(m.list().items);
    expect(again.get(a.id).state).toBe('acknowledged');
    expect(again.get(a.id).deviceCount).toBe(2);
    again.observe(anomaly({ detector: 'v2x', kind: 'position_jump' }));
    expect(again.list().items[0].id).not.toBe(b.id); // ids go on from the log
    expect(new Set(again.list().items.map((i) => i.id)).size).toBe(3);
  });
});

describe('incident log verification', () => {
  function logWith(records: number) {
    const { m, file } = manager();
    for (let i = 0; i < records; i++) m.observe(anomaly({ detector: 'flood', kind: 'device', region: `22${String(i).padStart(2, '0')}00` }));
    m.close();
    return { file, lines: readFileSync(file, 'utf8').trimEnd().split('\n') };
  }
  const write = (file: string, lines: string[]) => writeFileSync(file, lines.join('\n') + '\n');

  it('passes on an intact log', () => {
    const { file } = logWith(5);
    expect(verifyLog(file)).toEqual({ ok: true, records: 5 });
  });

  it('names an altered record', () => {
    const { file, lines } = logWith(5);
    expect(lines[2]).toContain('"count":1,');
    lines[2] = lines[2].replace('"count":1,', '"count":7,');
    write(file, lines);
    const r = verifyLog(file);
    expect(r.ok).toBe(false);
    expect(r.line).toBe(3);
    expect(r.problem).toMatch(/line 3 \(record n=3, incident INC-\d+-000003\): content does not match its hash: altered/);
  });

  it('names a deleted record', () => {
    const { file, lines } = logWith(5);
    lines.splice(1, 1);
    write(file, lines);
    const r = verifyLog(file);
    expect(r.problem).toMatch(/line 2 \(record n=3.*record 2 missing before it: deleted/);
  });

  it('names reordered records', () => {
    const { file, lines } = logWith(5);
    [lines[1], lines[2]] = [lines[2], lines[1]];
    write(file, lines);
    expect(verifyLog(file).problem).toMatch(/line 2 \(record n=3.*record 2 missing before it/);
    expect(verifyLog(file).line).toBe(2);
  });

  it('detects records cut from the end (the head remembers the count)', () => {
    const { file, lines } = logWith(5);
    write(file, lines.slice(0, 3));
    expect(verifyLog(file).problem).toMatch(/records 4\.\.5 missing at the end/);
  });
});
