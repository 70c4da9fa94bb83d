import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { loadRegistry } from '../../config/devices.js';
import { pseudonymise, redactPersonal } from '../../processors/pseudonymise.js';
import { validateAndTag, type TagContext } from '../../processors/validate-and-tag.js';
import { tempDir } from '../helpers/services.js';

const key = Buffer.alloc(32, 7);
const ID = 'ABCDEF0123456789';
const PS = pseudonymise(key, ID);
const redact = (text: string | Buffer, parse = true) => redactPersonal(key, ['vehicle_id'], Buffer.from(text), { parse }).toString('utf8');

describe('dead-letter redaction of personal fields (review row 5)', () => {
  const forms: [string, string][] = [
    ['plain', `{"data":{"vehicle_id":"${ID}"}}`],
    ['escaped underscore', `{"data":{"vehicle\\u005fid":"${ID}"}}`],
    ['every character escaped, upper-case hex', `{"data":{"\\u0076\\u0065\\u0068\\u0069\\u0063\\u006C\\u0065\\u005F\\u0069\\u0064":"${ID}"}}`],
    ['escaped value', `{"data":{"vehicle_id":"ABCDEF0123\\u003456789"}}`],
    ['top level', `{"ts":1,"vehicle_id":"${ID}","data":{}}`],
    ['nested deeper', `{"data":{"obu":[{"vehicle_id":"${ID}"}]}}`],
    ['JSON inside a string', JSON.stringify({ data: { note: `{"vehicle_id":"${ID}"}` } })],
    ['other letter case', `{"data":{"Vehicle_ID":"${ID}"}}`],
  ];
  for (const [name, text] of forms) {
    it(`${name}: parsed and textual`, () => {
      for (const parse of [true, false]) {
        const out = redact(text, parse);
        expect(out, `parse ${parse}`).not.toContain('ABCDEF0123');
        if (parse || !name.startsWith('JSON inside')) expect(out, `parse ${parse}`).toContain('"ps_');
      }
      // The parsed path gives the pseudonym the stored reading carries.
      if (!name.startsWith('JSON inside')) expect(redact(text)).toContain(PS);
    });
  }

  it('unparsable payloads: unquoted, cut short, non-string values, whitespace', () => {
    for (const text of [`{"data":{"vehicle_id": ${ID}}`, `{"data":{"vehicle\\u005fid" :\n "${ID.slice(0, 9)}`, `{"vehicle_id":[ "${ID}", 1], x`, `{"vehicle_id":{"a":"${ID}"}`]) {
      const out = redact(text);
      expect(out, text).not.toContain('ABCDEF');
      expect(out, text).toContain('"ps_');
    }
  });

  it('cuts the text at a name it cannot redact as a member', () => {
    const out = redact(`{"a":"x","vehicle_id":"${ID}","note":"{\\"vehicle_id\\":\\"${ID}`, false);
    expect(out).toBe(`{"a":"x","vehicle_id":"${PS}","note":"{\\"…[cut: a personal field name in a form not redacted]`);
  });

  it('leaves a payload without a personal field byte for byte, also a deep one', () => {
    const deep = `{"data":{"deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`;
    for (const text of ['{"ts":1e999,"data":{"b":1}}', 'not json', deep]) expect(redact(text)).toBe(text);
    const bytes = Buffer.from([0x7b, 0xff, 0x7d]);
    expect(redactPersonal(key, ['vehicle_id'], bytes).equals(bytes)).toBe(true);
  });

  it('a deeply nested payload with a personal field is redacted without overflowing', () => {
    const text = `{"data":{"vehicle_id":"${ID}","deep":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`;
    const out = redact(text);
    expect(out).not.toContain(ID);
    expect(out).toContain(PS);
  });
});

describe('validate-and-tag hardening', () => {
  const catalogue = loadCatalogue(loadPipelineConfig(defaultConfigFile(), {}).catalogue);
  const dir = tempDir();
  writeFileSync(join(dir, 'devices.yaml'), '- { id: soil-1, sector: agri, region: "220100", types: [soil] }\n- { id: obu-1, sector: v2x, region: "220100", types: [bsm] }\n');
  const registry = loadRegistry(join(dir, 'devices.yaml'), catalogue);
  const newCtx = (): TagContext => ({ catalogue: () => catalogue, registry: () => registry, pseudonymKey: key, maxPayloadBytes: 65536, futureToleranceMs: 300_000 });
  const soil = (ctx: TagContext, ts: number, seq: number) => validateAndTag(ctx, { topic: 'jl/agri/220100/soil-1/soil', payload: Buffer.from(JSON.stringify({ ts, seq, data: { moisture: 1, temperature: 2 } })), receivedAt: Date.now() });
  const outcome = (o: ReturnType<typeof soil>) => (o.ok ? `stored ${o.reading.timeNs}` : `${o.rejection.reason}: ${o.rejection.detail}`);

  it('row 8a: a reading that could share a point time with another in the same ms is refused; redeliveries and healthy devices pass', () => {
    const ctx = newCtx();
    const t = Date.now() - 10_000;
    expect(outcome(soil(ctx, t, 5))).toBe(`stored ${t}000005`);
    expect(outcome(soil(ctx, t, 6))).toBe(`stored ${t}000006`);
    expect(outcome(soil(ctx, t, 1_000_005))).toMatch(/^schema_violation: seq 1000005 has the same event ms \(\d+\) as seq 5 of this device, 1000000 apart/);
    expect(outcome(soil(ctx, t, 1_000_004))).toBe(`stored ${t}000004`); // span 999999: all sub-ms digits distinct
    expect(outcome(soil(ctx, t, 4))).toMatch(/^schema_violation: seq 4 has the same event ms .* as seq 1000004/);
    expect(outcome(soil(ctx, t, 5))).toBe(`stored ${t}000005`); // redelivered: the same point
    // A later ms starts afresh: a long-lived device's seq may be anything.
    expect(outcome(soil(ctx, t + 1, 7_000_005))).toBe(`stored ${t + 1}000005`);
    // Each pipeline (TagContext) keeps its own state.
    expect(outcome(soil(newCtx(), t, 1_000_005))).toBe(`stored ${t}000005`);
  });

  it('row 5: an invalid_json detail does not quote the payload', () => {
    const o = validateAndTag(newCtx(), { topic: 'jl/v2x/220100/obu-1/bsm', payload: Buffer.from(`{"ts":1,"seq":1,"data":{"vehicle_id": ${ID}}}`), receivedAt: Date.now() });
    expect(o.ok).toBe(false);
    if (o.ok) return;
    expect(o.rejection.reason).toBe('invalid_json');
    expect(o.rejection.detail).not.toContain('ABCDEF0');
    expect(o.rejection.payload.toString()).not.toContain(ID);
  });
});
