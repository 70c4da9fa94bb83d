import { closeSync, mkdirSync, openSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { checkpointMac, loadLogKey, recordHash, recordMac, verifyLog, type Checkpoint, type LogRecord } from '../../alerts/incident-log.js';
import { IncidentManager, type IncidentsConfig } from '../../alerts/incidents.js';
import { incidentReportMarkdown } from '../../alerts/report.js';
import { tempDir } from '../helpers/services.js';
import { anomaly, cfg, T0 } from './fixtures.js';

// Findings 3, 6, 7, 12, 13 and 16 (part) of the outside security review (issue 10).

const KEY = Buffer.alloc(32, 7);

function spyLogger() {
  const l = { error: vi.fn(), warn: vi.fn(), info: vi.fn(), debug: vi.fn() };
  return { logger: l as unknown as Logger, calls: l };
}

function manager(o: { file?: string; c?: Partial<IncidentsConfig>; logger?: Logger; onCheckpoint?: (c: Checkpoint) => void; now?: { t: number } } = {}) {
  const now = o.now ?? { t: T0 };
  const file = o.file ?? join(tempDir(), 'incidents', 'incidents.log');
  const m = new IncidentManager(file, { ...cfg, ...o.c }, o.logger, () => now.t, undefined, { key: KEY, onCheckpoint: o.onCheckpoint });
  onTestFinished(() => m.close());
  return { m, file, now };
}

const lines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n');
const write = (file: string, ls: string[]) => writeFileSync(file, ls.join('\n') + '\n');

describe('a failed incident-log write (finding 3)', () => {
  it('keeps the change, logs once, tells listeners only once the log takes it; never throws into detection, the API or the timer', () => {
    const { logger, calls } = spyLogger();
    const { m, file, now } = manager({ logger, c: { clearAfterMs: 86_400_000 } });
    const heard: string[] = [];
    m.on((e, i, n) => heard.push(`${e}:${i.id}:${n}`));
    m.observe(anomaly());
    const a = m.list().items[0];
    expect(heard).toEqual([`opened:${a.id}:1`]);

    // The disk is full: the log (and what a reopen would find) is /dev/full.
    const good = readFileSync(file);
    const log = m.log as unknown as { fd: number };
    closeSync(log.fd);
    log.fd = openSync('/dev/full', 'a');
    unlinkSync(file);
    symlinkSync('/dev/full', file);

    expect(() => m.observe(anomaly({ detector: 'energy', kind: 'counter_decrease', category: 'data-security', device: 'meter-220100-0002' }))).not.toThrow();
    expect(() => m.acknowledge(a.id, 'alice', 'reported', true)).not.toThrow();
    now.t += 4 * 3_600_000 + 1; // the second (level III) goes overdue: recorded by the timer's tick
    expect(() => m.tick()).not.toThrow();
    expect(() => m.tick()).not.toThrow();
    expect(m.logWritable).toBe(false);
    expect(heard).toHaveLength(1);
    expect(calls.error).toHaveBeenCalledTimes(1);
    expect(String(calls.error.mock.calls[0][1])).toMatch(/incident log write failed/);

    // Space again: the next tick writes the changes in order, and each alert goes out once.
    unlinkSync(file);
    writeFileSync(file, good);
    m.tick();
    m.tick();
    expect(m.logWritable).toBe(true);
    const b = m.list().items.find((i) => i.id !== a.id)!;
    expect(heard).toEqual([`opened:${a.id}:1`, `opened:${b.id}:2`, `acknowledged:${a.id}:3`, `overdue:${b.id}:4`]);
    expect(calls.error).toHaveBeenCalledTimes(1);
    expect(verifyLog(file, { key: KEY })).toEqual({ ok: true, records: 4, authenticated: true });
    expect(readFileSync(file, 'utf8')).not.toContain('\0');
  });
});

describe('a torn last line (finding 7)', () => {
  it('is cut at start with a warning naming the bytes; verify passes, also after more appends', () => {
    const { m, file } = manager();
    for (const r of ['220100', '220200', '220300']) m.observe(anomaly({ region: r }));
    m.close();
    const torn = '{"n":4,"at":1780000000000,"event":"upd';
    writeFileSync(file, readFileSync(file, 'utf8') + torn);
    const { logger, calls } = spyLogger();
    const again = manager({ file, logger }).m;
    expect(calls.warn).toHaveBeenCalledTimes(1);
    expect(calls.warn.mock.calls[0][0]).toMatchObject({ dropped: torn, bytes: torn.length });
    expect(verifyLog(file, { key: KEY })).toMatchObject({ ok: true, records: 3 });
    again.observe(anomaly({ region: '220400' }));
    expect(verifyLog(file, { key: KEY })).toMatchObject({ ok: true, records: 4 });
    expect(again.list().total).toBe(4);
  });
});

describe('a keyed, anchored chain (finding 6)', () => {
  function logWith(records: number) {
    const cps: Checkpoint[] = [];
    const { m, file, now } = manager({ onCheckpoint: (c) => cps.push(c) });
    for (let i = 0; i < records; i++) {
      m.observe(anomaly({ detector: 'flood', kind: 'device', region: `22${String(i).padStart(2, '0')}00` }));
      if (i === 2) m.tick(); // a checkpoint at n=3
      now.t += 1000;
    }
    m.close(); // and one at the end
    return { file, cps, ls: lines(file) };
  }
  const parse = (l: string) => JSON.parse(l) as LogRecord;

  it('an intact log verifies with the key and against its checkpoints; each checkpoint carries a valid MAC', () => {
    const { file, cps } = logWith(5);
    expect(cps.map((c) => c.n)).toEqual([3, 5]);
    for (const c of cps) expect(c.mac).toBe(checkpointMac(KEY, c));
    expect(verifyLog(file, { key: KEY })).toEqual({ ok: true, records: 5, authenticated: true });
    for (const against of cps) expect(verifyLog(file, { key: KEY, against })).toMatchObject({ ok: true, records: 5 });
  });

  it('catches a log cut and its head rewritten', () => {
    const { file, cps, ls } = logWith(5);
    write(file, ls.slice(0, 3));
    const r3 = parse(ls[2]);
    writeFileSync(`${file}.head`, JSON.stringify({ n: 3, hash: r3.hash }));
    expect(verifyLog(file).ok).toBe(true); // what the review found: without a key, nothing to see
    expect(verifyLog(file, { key: KEY }).problem).toMatch(/head has no valid MAC/);
    writeFileSync(`${file}.head`, JSON.stringify({ n: 3, hash: r3.hash, at: r3.at, mac: r3.mac })); // a record's MAC reused
    expect(verifyLog(file, { key: KEY }).problem).toMatch(/head has no valid MAC/);
    // A checkpoint kept off the host catches it even with a genuine old head, and without the key.
    expect(verifyLog(file, { against: cps[1] }).problem).toMatch(/records 4\.\.5 missing at the end \(the checkpoint of .* says 5\): cut/);
    expect(verifyLog(file, { key: KEY, against: cps[1] }).ok).toBe(false);
  });

  it('catches a record deleted and the chain recomputed', () => {
    const { file, cps, ls } = logWith(5);
    const kept = ls.filter((_, i) => i !== 1).map(parse);
    let prev = '0'.repeat(64);
    for (const [i, r] of kept.entries()) {
      r.n = i + 1;
      r.prev = prev;
      r.hash = recordHash(prev, r);
      prev = r.hash;
    }
    write(file, kept.map((r) => JSON.stringify(r)));
    writeFileSync(`${file}.head`, JSON.stringify({ n: 4, hash: prev }));
    expect(verifyLog(file).ok).toBe(true); // what the review found
    expect(verifyLog(file, { key: KEY })).toMatchObject({ ok: false, line: 2, problem: expect.stringMatching(/line 2 \(record n=2.*MAC does not match/) });
    write(file, kept.map((r) => JSON.stringify({ ...r, mac: undefined })));
    expect(verifyLog(file, { key: KEY }).problem).toMatch(/carries no MAC/);
    expect(verifyLog(file, { against: cps[0] }).problem).toMatch(/line 3 \(record n=3.*does not match the checkpoint/);
  });

  it('refuses a forged checkpoint under the key', () => {
    const { file, ls } = logWith(3);
    const r = parse(ls[2]);
    const forged = { n: 3, hash: r.hash, at: T0, mac: recordMac(KEY, r.hash) };
    expect(verifyLog(file, { key: KEY, against: forged }).problem).toMatch(/checkpoint's MAC does not match/);
  });

  it('the key: made once with mode 0600 outside the data dir, never inside it; the environment overrides', () => {
    const dir = tempDir();
    const file = join(dir, 'config', 'incident-log.key');
    mkdirSync(join(dir, 'config'));
    const key = loadLogKey(file, join(dir, 'data'), {});
    expect(key).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadLogKey(file, join(dir, 'data'), {})).toEqual(key);
    expect(() => loadLogKey(join(dir, 'data', 'k.key'), join(dir, 'data'), {})).toThrow(/must not be in the data dir/);
    expect(loadLogKey(join(dir, 'data', 'k.key'), join(dir, 'data'), { JL_INCIDENT_LOG_KEY: 'ab'.repeat(32) })).toEqual(Buffer.alloc(32, 0xab));
  });
});

describe('the Markdown report (finding 12)', () => {
  it('escapes Markdown in device ids, details and notes and shows bidi and control characters as \\uXXXX', () => {
    const { m } = manager();
    const link = '[REPORT FILED - no action needed](https://evil.example/x)';
    m.observe(anomaly({ device: link }));
    m.observe(anomaly({ device: 'meter-\u202Eevil\u2066', detail: 'bad *sig* <img src=x>' }));
    const inc = m.list().items[0];
    m.acknowledge(inc.id, 'mallory\u202E', 'fine\n# Resolved: nothing happened');
    const md = incidentReportMarkdown(inc, T0);
    expect(md).not.toMatch(/(?<!\\)\[REPORT FILED/);
    expect(md).toContain('\\[REPORT FILED - no action needed\\]\\(https://evil.example/x\\)');
    expect(md).not.toMatch(/[\u202E\u2066]/);
    expect(md).toContain('meter-\\u202Eevil\\u2066');
    expect(md).toContain('mallory\\u202E');
    expect(md).toContain('bad \\*sig\\* \\<img src=x\\>');
    expect(md).toContain('fine\\u000A\\# Resolved: nothing happened');
    expect(md.split('\n').filter((l) => l.startsWith('#')).map((l) => l.split(' ')[0] + ' ' + l.split(' ')[1])).toEqual(['# Incident', '## What', '## When', '## Scope', '## Data', '## Timeline', '## Actions']);
  });
});

describe('counting devices past the list (finding 13)', () => {
  it('counts each device once beyond maxDevices', () => {
    const { m } = manager({ c: { openAfter: 1 } });
    for (let round = 0; round < 2; round++) for (let d = 0; d < 1001; d++) m.observe(anomaly({ device: `meter-${d}` }));
    const inc = m.list().items[0];
    expect(Object.keys(inc.devices)).toHaveLength(1000);
    expect(inc.deviceCount).toBe(1001);
  });

  it('keeps an exact set of 10 x maxDevices past the list; beyond it the count is a lower bound', () => {
    const { m } = manager({ c: { maxDevices: 2 } });
    for (let round = 0; round < 2; round++) for (let d = 0; d < 30; d++) m.observe(anomaly({ device: `meter-${d}` }));
    expect(m.list().items[0].deviceCount).toBe(22);
  });
});

describe('resolved incidents in memory (finding 16)', () => {
  it('are forgotten keepResolvedMs after resolution (never within the reopen window); the log keeps them', () => {
    const { m, file, now } = manager({ c: { keepResolvedMs: 1000, reopenWindowMs: 60_000 } });
    m.observe(anomaly());
    const inc = m.list().items[0];
    m.resolve(inc.id, 'bob');
    now.t += 30_000;
    m.tick();
    m.observe(anomaly()); // within the reopen window: reopens
    expect([m.list().total, inc.state, inc.reopened]).toEqual([1, 'open', 1]);
    m.resolve(inc.id, 'bob');
    now.t += 60_001;
    m.tick();
    expect(m.list().total).toBe(0);
    expect(() => m.get(inc.id)).toThrow(/no incident/);
    m.observe(anomaly()); // a new incident, not a reopen
    expect(m.list().items.map((i) => i.id)).not.toContain(inc.id);
    expect(m.counts().resolved).toBe(0);
    m.close();
    expect(lines(file).filter((l) => l.includes(inc.id))).toHaveLength(4);
    // Restored from the log, and forgotten again at start.
    const again = manager({ file, now, c: { keepResolvedMs: 1000, reopenWindowMs: 60_000 } }).m;
    expect(again.list().total).toBe(1);
  });

  it('defaults to 7 days', () => {
    const { m, now } = manager();
    m.observe(anomaly());
    m.resolve(m.list().items[0].id, 'bob');
    now.t += 7 * 86_400_000;
    m.tick();
    expect(m.list().total).toBe(1);
    now.t += 1;
    m.tick();
    expect(m.list().total).toBe(0);
  });
});
