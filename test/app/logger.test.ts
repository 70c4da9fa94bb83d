import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { makeLogger, prettyStream } from '../../app/logger.js';

// Issue 13: keys are never written to logs. The code logs no device object; the logger censors
// secret fields anyway, so a later `log.info({ device })` cannot leak a key.
describe('the pipeline logger', () => {
  it('censors keys, passwords and tokens at the top level and one level down', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) });
    const log = makeLogger('info', { svc: 'test' }, sink);
    const key = 'ab'.repeat(32);
    log.info({ device: { id: 'meter-1', key, previousKey: key, sigScheme: 'v2' }, password: 'pw-1', influx: { token: 'tok-1' } }, 'device loaded');
    log.info({ config: { mqtt: { password: 'pw-2' } }, devices: [{ id: 'a', key }], channel: { secret: 'sec-1' }, headers: { authorization: 'Bearer tok-2' } }, 'deeper');
    const text = lines.join('');
    for (const s of ['pw-2', 'sec-1', 'tok-2']) expect(text).not.toContain(s);
    expect(text).not.toContain(key);
    expect(text).not.toContain('pw-1');
    expect(text).not.toContain('tok-1');
    const o = JSON.parse(lines[0]) as { svc: string; device: Record<string, string>; password: string };
    expect(o).toMatchObject({ svc: 'test', device: { id: 'meter-1', key: '***', previousKey: '***', sigScheme: 'v2' }, password: '***' });
  });
});

describe('the terminal form of the logs', () => {
  it('is a line a person reads (local time, level, message, fields), with secrets still censored', () => {
    const out: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (out.push(chunk.toString()), cb()) });
    const log = makeLogger('info', { svc: 'jlpipe' }, prettyStream(sink, false));
    log.info({ port: 8080, password: 'pw-3' }, 'HTTP API listening');
    const line = out.join('');
    expect(line).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: HTTP API listening\n\s+port: 8080\n\s+password: "\*\*\*"/);
    expect(line).not.toContain('pw-3');
    expect(line).not.toContain('{"level"');
  });
});
