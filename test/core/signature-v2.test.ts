import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { loadRegistry } from '../../config/devices.js';
import { ingestRecordToMessage } from '../../kafka/records.js';
import { packageRoot } from '../../config/paths.js';
import { sign, signV2, splitTrailer, verifyV2 } from '../../core/signature.js';
import { validateAndTag, type TagContext } from '../../processors/validate-and-tag.js';
import { tempDir } from '../helpers/services.js';

interface Vector {
  key: string;
  topic: string;
  payload: string;
  sig: string;
}

/** The test vectors published in docs/DEVICES.md (the `json test-vectors` block): the doc cannot drift from the code. */
function publishedVectors(): Vector[] {
  const doc = readFileSync(join(packageRoot(), 'docs', 'DEVICES.md'), 'utf8');
  const block = /```json test-vectors\n([\s\S]*?)\n```/.exec(doc);
  if (!block) throw new Error('docs/DEVICES.md has no ```json test-vectors block');
  return JSON.parse(block[1]) as Vector[];
}

describe('wire contract v2: HMAC-SHA256 over topic, line feed and the payload bytes as sent', () => {
  const vectors = publishedVectors();

  it('the published test vectors hold', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(3);
    for (const v of vectors) {
      const key = Buffer.from(v.key, 'hex');
      expect(signV2(key, v.topic, Buffer.from(v.payload, 'utf8')), v.payload).toBe(v.sig);
      expect(verifyV2(key, v.topic, Buffer.from(v.payload, 'utf8'), v.sig)).toBe(true);
      expect(verifyV2(key, v.topic, Buffer.from(v.payload, 'utf8'), v.sig.toUpperCase())).toBe(true);
      // One byte more, another topic or another key: no match.
      expect(verifyV2(key, v.topic, Buffer.from(v.payload + ' ', 'utf8'), v.sig)).toBe(false);
      expect(verifyV2(key, `${v.topic}x`, Buffer.from(v.payload, 'utf8'), v.sig)).toBe(false);
      expect(verifyV2(Buffer.alloc(32, 1), v.topic, Buffer.from(v.payload, 'utf8'), v.sig)).toBe(false);
    }
    // Numbers written two ways are two different messages, each with its own signature.
    expect(vectors[0].sig).not.toBe(vectors[1].sig);
  });

  it('the MQTT 3.1.1 trailer: the JSON bytes, a line feed, sig= and 64 hex digits, nothing after', () => {
    const v = vectors[0];
    const body = Buffer.from(v.payload);
    const sent = Buffer.concat([body, Buffer.from(`\nsig=${v.sig}`)]);
    expect(splitTrailer(sent)).toEqual({ body, sig: v.sig });
    // A payload whose JSON ends in a line feed keeps it: only the trailer's own is taken off.
    const withLf = Buffer.from(vectors[2].payload);
    expect(splitTrailer(Buffer.concat([withLf, Buffer.from(`\nsig=${vectors[2].sig}`)]))?.body.equals(withLf)).toBe(true);
    for (const bad of [`\nsig=${v.sig}\n`, `\nsig=${v.sig.slice(1)}`, `\nsig=${'g'.repeat(64)}`, ` sig=${v.sig}`, `\nSIG=${v.sig}`]) {
      expect(splitTrailer(Buffer.concat([body, Buffer.from(bad)])), JSON.stringify(bad)).toBeUndefined();
    }
    expect(splitTrailer(body)).toBeUndefined();
  });
});

describe('ingest: a device per sigScheme', () => {
  const catalogue = loadCatalogue(loadPipelineConfig(defaultConfigFile(), {}).catalogue);
  const KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
  const dir = tempDir();
  writeFileSync(
    join(dir, 'devices.yaml'),
    [
      `- { id: meter-v2, sector: energy, region: "220200", types: [meter], key: "${KEY}", sigScheme: v2 }`,
      `- { id: meter-v1, sector: energy, region: "220200", types: [meter], key: "${KEY}" }`,
      `- { id: meter-plain, sector: energy, region: "220200", types: [meter] }`,
      '',
    ].join('\n'),
  );
  const registry = loadRegistry(join(dir, 'devices.yaml'), catalogue);
  const ctx: TagContext = { catalogue: () => catalogue, registry: () => registry, pseudonymKey: Buffer.alloc(32, 7), maxPayloadBytes: 65536, futureToleranceMs: 300_000 };
  let seq = 1;
  // As C's printf and Python's json write it: 50.0, not ECMAScript's 50.
  const firmwareJson = () => `{"ts":"${new Date(Date.now() - 60_000).toISOString()}","seq":${seq++},"data":{"voltage_a":220.0,"current_a":10.0,"active_power":2.0,"power_factor":0.90,"frequency":50.0,"energy_total":1200.0}}`;
  const key = Buffer.from(KEY, 'hex');
  const topic = (id: string) => `jl/energy/220200/${id}/meter`;
  const outcome = (id: string, payload: string | Buffer, sig?: string) => validateAndTag(ctx, { topic: topic(id), payload: Buffer.from(payload), receivedAt: Date.now(), ...(sig ? { sig } : {}) });

  it('v2 accepts the bytes as the firmware wrote them, signed in the MQTT 5 property or a trailer', () => {
    const json = firmwareJson();
    const viaProperty = outcome('meter-v2', json, signV2(key, topic('meter-v2'), json));
    expect(viaProperty.ok, JSON.stringify(viaProperty)).toBe(true);
    if (viaProperty.ok) expect(viaProperty.reading.fields.frequency).toEqual({ type: 'float', value: 50 });
    const json2 = firmwareJson();
    const viaTrailer = outcome('meter-v2', `${json2}\nsig=${signV2(key, topic('meter-v2'), json2)}`);
    expect(viaTrailer.ok, JSON.stringify(viaTrailer)).toBe(true);
  });

  it('v2 through Kafka: a jl.ingest record carries the signature in its header "sig", as MQTT 5 in its user property', () => {
    const json = firmwareJson();
    const record = (headers: { [k: string]: string }[]) => validateAndTag(ctx, ingestRecordToMessage({ value: Buffer.from(json), headers }));
    const signed = record([{ topic: topic('meter-v2') }, { sig: signV2(key, topic('meter-v2'), json) }]);
    expect(signed.ok, JSON.stringify(signed)).toBe(true);
    const unsigned = record([{ topic: topic('meter-v2') }]);
    expect(unsigned.ok ? 'stored' : unsigned.rejection.reason).toBe('bad_signature');
  });

  it('v2 refuses a wrong, missing or v1-style signature as bad_signature', () => {
    const json = firmwareJson();
    const cases = [
      outcome('meter-v2', json, signV2(Buffer.alloc(32, 9), topic('meter-v2'), json)),
      outcome('meter-v2', json.replace('"frequency":50.0', '"frequency":49.0'), signV2(key, topic('meter-v2'), json)),
      outcome('meter-v2', json),
      outcome('meter-v2', `${json}\nsig=${'ab'.repeat(32)}`),
    ];
    for (const c of cases) expect(c.ok ? 'stored' : c.rejection.reason).toBe('bad_signature');
    const missing = cases[2];
    expect(missing.ok ? '' : missing.rejection.detail).toMatch(/sigScheme v2: the MQTT 5 user property "sig", or a "sig=" trailer line/);
  });

  it('v1 still verifies canonical JSON in the payload, and is the scheme that fails on 50.0', () => {
    const payload = JSON.parse(firmwareJson()) as Record<string, unknown>;
    payload.sig = sign(key, topic('meter-v1'), payload);
    expect(outcome('meter-v1', JSON.stringify(payload)).ok).toBe(true);
    // The firmware's own bytes, with the v1 signature computed over them as written: refused.
    const json = firmwareJson();
    const asWritten = createHmac('sha256', key).update(`${topic('meter-v1')}\n${json}`).digest('hex');
    const v1 = outcome('meter-v1', json.replace(/}$/, `,"sig":"${asWritten}"}`));
    expect(v1.ok ? 'stored' : v1.rejection.reason).toBe('bad_signature');
    // An unkeyed device is not checked, whatever it carries.
    expect(outcome('meter-plain', firmwareJson(), 'cd'.repeat(32)).ok).toBe(true);
  });
});
