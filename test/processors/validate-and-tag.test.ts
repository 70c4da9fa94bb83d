import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../config/catalogue.js';
import { loadRegistry } from '../../config/devices.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { makeFleet, registryYaml } from '../../ingest/simulator/fleet.js';
import { MessageFactory } from '../../ingest/simulator/simulator.js';
import { validateAndTag, type TagContext } from '../../processors/validate-and-tag.js';
import { sign, verify } from '../../core/signature.js';
import { parseTopic } from '../../core/topic.js';
import { toLine } from '../../storage/influx/line-protocol.js';
import { extraRegistry, hostileCases } from '../fixtures/hostile-inputs.js';
import { tempDir } from '../helpers/services.js';

const catalogue = loadCatalogue(loadPipelineConfig(defaultConfigFile(), {}).catalogue);
const fleet = makeFleet(990, 'unit');
const dir = tempDir();
writeFileSync(join(dir, 'devices.yaml'), registryYaml(fleet) + extraRegistry);
const registry = loadRegistry(join(dir, 'devices.yaml'), catalogue);
const ctx: TagContext = {
  catalogue: () => catalogue,
  registry: () => registry,
  pseudonymKey: Buffer.alloc(32, 7),
  maxPayloadBytes: 65536,
  futureToleranceMs: 300_000,
};
const msg = (topic: string, payload: string | Buffer) => ({ topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), receivedAt: Date.now() });

describe('ingest: validate, authenticate, tag', () => {
  it.each(hostileCases().map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const out = validateAndTag(ctx, msg(c.topic, c.payload));
    if (c.expect === 'stored') expect(out.ok, JSON.stringify(out)).toBe(true);
    else expect(out.ok ? 'stored' : out.rejection.reason).toBe(c.expect);
  });

  it('accepts every message the simulator makes, for every device and type, at any rate', () => {
    const factory = new MessageFactory(fleet, 11);
    let t = Date.now() - 3_600_000;
    for (let i = 0; i < 20_000; i++) {
      const m = factory.next((t += i % 3 === 0 ? 1 : 0));
      const out = validateAndTag(ctx, msg(m.topic, JSON.stringify(m.payload)));
      if (!out.ok) throw new Error(`${m.topic}: ${out.rejection.reason} ${out.rejection.detail}`);
    }
  });

  it('tags with catalogue metadata, types fields from the schema and keeps event time', () => {
    const d = fleet.find((x) => x.types.includes('meter'))!;
    const m = new MessageFactory([d], 1).make(d, 'meter', Date.parse('2026-01-15T08:00:00.123Z'));
    const out = validateAndTag(ctx, msg(m.topic, JSON.stringify(m.payload)));
    if (!out.ok) throw new Error(out.rejection.detail);
    const r = out.reading;
    expect(r.tags).toEqual({ code: 'JL-NY-0301-001', sector: 'energy', region: d.region, device: d.id, grade: 'important', share: 'conditional', catalog_version: catalogue.version });
    expect(r.timeNs).toBe(`${Date.parse('2026-01-15T08:00:00.123Z')}000001`);
    expect(r.fields.active_power.type).toBe('float');
    expect(r.fields.seq).toEqual({ type: 'integer', value: 1 });
    expect(toLine(r)).toMatch(/^energy_meter,catalog_version=2026\.11\.1,code=JL-NY-0301-001,device=meter-\S+ .*seq=1i.* 1768464000123000001$/);
  });

  it('refuses an integer too large to store exactly, naming the field (a poison record before)', () => {
    const d = fleet.find((x) => x.types.includes('machine') && !x.key) ?? fleet.find((x) => x.types.includes('machine'))!;
    const m = new MessageFactory([d], 1).make(d, 'machine', Date.now() - 1000);
    const text = JSON.stringify({ ...m.payload, sig: undefined }).replace(/"good_count":\d+/, '"good_count":10000000000000000000');
    const body = JSON.parse(text) as Record<string, unknown>;
    if (d.key) body.sig = sign(Buffer.from(d.key, 'hex'), m.topic, body);
    const raw = JSON.stringify(body).replace(/"good_count":1e\+?19/, '"good_count":10000000000000000000');
    expect(raw).toContain('"good_count":10000000000000000000');
    const out = validateAndTag(ctx, msg(m.topic, raw));
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.rejection.reason).toBe('schema_violation');
    expect(out.rejection.detail).toMatch(/data\/good_count .* too large to store exactly/);
    // The largest exact integer still passes.
    const edge = JSON.parse(JSON.stringify(m.payload)) as { data: Record<string, unknown>; sig?: string };
    edge.data.good_count = Number.MAX_SAFE_INTEGER;
    if (d.key) edge.sig = sign(Buffer.from(d.key, 'hex'), m.topic, { ...edge, sig: undefined });
    expect(validateAndTag(ctx, msg(m.topic, JSON.stringify(edge))).ok).toBe(true);
  });

  it('signatures cover the topic and the canonical payload', () => {
    const key = Buffer.alloc(32, 1);
    const p = { ts: 1, seq: 2, data: { b: 1, a: 'x' } };
    const sig = sign(key, 'jl/t', p);
    expect(verify(key, 'jl/t', { data: { a: 'x', b: 1 }, seq: 2, ts: 1, sig })).toBe(true); // key order is irrelevant
    expect(verify(key, 'jl/u', { ...p, sig })).toBe(false);
    expect(verify(key, 'jl/t', { ...p, seq: 3, sig })).toBe(false);
  });

  it('parses topics strictly', () => {
    expect(parseTopic('jl/agri/220100/dev-1/soil')).toEqual({ sector: 'agri', region: '220100', device: 'dev-1', messageType: 'soil' });
    for (const bad of ['jl/agri/220100/dev 1/soil', 'jl/agri/220100//soil', 'xx/agri/220100/d/soil', 'jl/agri/2201/d/soil', 'jl/agri/220100/d/Soil']) {
      expect(typeof parseTopic(bad), bad).toBe('string');
    }
  });

  it('the shipped registry matches the shipped catalogue', () => {
    const shipped = loadPipelineConfig(defaultConfigFile(), {});
    expect(loadRegistry(shipped.devices, catalogue).size).toBe(990);
    expect(readFileSync(shipped.devices, 'utf8')).toContain('demo keys');
  });
});

describe('canonical JSON of signatures (RFC 8785)', () => {
  it('sorts keys by code unit and serialises numbers and strings as JCS does', async () => {
    const { signedBytes } = await import('../../core/signature.js');
    const p = { ts: 1, seq: 2, sig: 'x', data: { é: 'ü\u2028"\\', b: [1, { d: 1, c: 2 }], a: null, x: 1e21, y: -0, w: 0.000001, t: true, '\u20ac': 1, '\r': 2 } };
    expect(signedBytes('jl/t', p)).toBe('jl/t\n{"data":{"\\r":2,"a":null,"b":[1,{"c":2,"d":1}],"t":true,"w":0.000001,"x":1e+21,"y":0,"é":"ü\u2028\\"\\\\","\u20ac":1},"seq":2,"ts":1}');
  });
});
