import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { loadRegistry } from '../../config/devices.js';
import type { Outcome } from '../../core/types.js';
import { UnknownFieldsReport } from '../../processors/unknown-fields.js';
import { validateAndTag, type TagContext } from '../../processors/validate-and-tag.js';
import { tempDir } from '../helpers/services.js';

// Issue 13: tolerant where safe (a firmware update adding a field, ts in epoch seconds), strict
// where it matters (names no field could have, a catalogue entry that rejects unknown fields).
describe('tolerant ingest', () => {
  const dir = tempDir();
  // The shipped catalogue, with soil storing unknown fields and weather rejecting them; meter keeps the default (drop).
  const shipped = readFileSync(loadPipelineConfig(defaultConfigFile(), {}).catalogue, 'utf8');
  const text = shipped.replace('    measurement: agri_soil\n', '    measurement: agri_soil\n    unknownFields: store\n').replace('    measurement: agri_weather\n', '    measurement: agri_weather\n    unknownFields: reject\n');
  expect(text).not.toBe(shipped);
  writeFileSync(join(dir, 'catalogue.yaml'), text);
  const catalogue = loadCatalogue(join(dir, 'catalogue.yaml'));
  writeFileSync(
    join(dir, 'devices.yaml'),
    ['- { id: soil-1, sector: agri, region: "220100", types: [soil] }', '- { id: wx-1, sector: agri, region: "220100", types: [weather] }', '- { id: heat-1, sector: energy, region: "220100", types: [heat] }', ''].join('\n'),
  );
  const registry = loadRegistry(join(dir, 'devices.yaml'), catalogue);
  const ctx: TagContext = { catalogue: () => catalogue, registry: () => registry, pseudonymKey: Buffer.alloc(32, 7), maxPayloadBytes: 65536, futureToleranceMs: 300_000 };
  let seq = 1;
  const send = (topic: string, ts: unknown, data: Record<string, unknown>): Outcome => validateAndTag(ctx, { topic, payload: Buffer.from(JSON.stringify({ ts, seq: seq++, data })), receivedAt: Date.now() });
  const heat = (ts: unknown, extra: Record<string, unknown> = {}) => send('jl/energy/220100/heat-1/heat', ts, { flow_rate: 12.5, supply_temp: 80, return_temp: 55, heat_total: 1000 + seq, ...extra });
  const reason = (o: Outcome) => (o.ok ? 'stored' : `${o.rejection.reason}: ${o.rejection.detail}`);

  it('ts: RFC 3339, epoch milliseconds or epoch seconds (below 1e11), and an error that names the three', () => {
    const t = Date.UTC(2026, 11, 6, 8, 0, 0);
    for (const ts of [new Date(t).toISOString(), '2026-12-06T16:00:00+08:00', t, t / 1000]) {
      const o = heat(ts);
      expect(o.ok && o.reading.eventMs, String(ts)).toBe(t);
    }
    const frac = heat(t / 1000 + 0.25);
    expect(frac.ok && frac.reading.eventMs).toBe(t + 250);
    for (const bad of ['yesterday', 12, 5e12, true, 1.5e12 + 0.5]) {
      expect(reason(heat(bad)), String(bad)).toMatch(/^schema_violation: (envelope \/)?ts must be an RFC 3339 date-time with an offset .*, epoch milliseconds .* or epoch seconds .*, between 2000 and 2100$/);
    }
  });

  it('unknownFields drop (the default): the known fields are stored, the new one is not, and it is named', () => {
    const o = heat(Date.now() - 60_000, { battery: 3.7 });
    expect(o.ok, reason(o)).toBe(true);
    if (!o.ok) return;
    expect(Object.keys(o.reading.fields).sort()).toEqual(['flow_rate', 'heat_total', 'return_temp', 'seq', 'supply_temp']);
    expect(o.reading.unknownFields).toEqual(['battery']);
  });

  it('unknownFields store: scalar unknown fields are stored too (numbers as float); others, and reserved names, are dropped', () => {
    const o = send('jl/agri/220100/soil-1/soil', Date.now() - 60_000, { moisture: 30, temperature: 10, battery: 4, firmware: '2.1', charging: false, nested: { a: 1 }, time: 5 });
    expect(o.ok, reason(o)).toBe(true);
    if (!o.ok) return;
    expect(o.reading.fields.battery).toEqual({ type: 'float', value: 4 });
    expect(o.reading.fields.firmware).toEqual({ type: 'string', value: '2.1' });
    expect(o.reading.fields.charging).toEqual({ type: 'boolean', value: false });
    expect(o.reading.fields.nested).toBeUndefined();
    expect(o.reading.fields.time).toBeUndefined();
    expect(o.reading.unknownFields).toEqual(['battery', 'firmware', 'charging', 'nested', 'time']);
  });

  it('unknownFields reject, and names no field could have, are schema violations', () => {
    expect(reason(send('jl/agri/220100/wx-1/weather', Date.now() - 60_000, { air_temperature: 1, humidity: 50, battery: 3.7 }))).toBe('schema_violation: data must NOT have additional properties "battery"');
    expect(reason(heat(Date.now() - 60_000, { 'Battery Level': 3 }))).toBe('schema_violation: data field name "Battery Level" is not a field name (lower-case snake_case)');
    const proto = validateAndTag(ctx, { topic: 'jl/energy/220100/heat-1/heat', payload: Buffer.from(`{"ts":${Date.now() - 60_000},"seq":${seq++},"data":{"__proto__":{"x":1},"flow_rate":1,"supply_temp":1,"return_temp":1,"heat_total":1}}`), receivedAt: Date.now() });
    expect(reason(proto)).toMatch(/^schema_violation: data field name "__proto__"/);
  });

  it('the operator is told once per device and new name, every such message is counted', () => {
    const warned: unknown[] = [];
    const report = new UnknownFieldsReport({ warn: (o: unknown) => warned.push(o) } as never);
    const observe = (o: Outcome) => report.observe(o);
    for (let i = 0; i < 5; i++) observe(heat(Date.now() - 60_000 + i, { battery: 3.7 }));
    observe(heat(Date.now() - 50_000));
    expect(report.messages).toBe(5);
    expect(warned).toEqual([{ device: 'heat-1', measurement: 'energy_heat', fields: ['battery'] }]);
    observe(heat(Date.now() - 40_000, { battery: 3.6, rssi: -70 }));
    expect(warned).toHaveLength(2);
    expect(warned[1]).toMatchObject({ fields: ['rssi'] });
    expect(report.devices()).toEqual({ 'heat-1': ['battery', 'rssi'] });
  });
});
