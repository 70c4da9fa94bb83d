import { describe, expect, it } from 'vitest';
import { loadCatalogue, type Catalogue } from '../../config/catalogue.js';
import type { Registry } from '../../config/devices.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { PipelineStats, PROVINCE } from '../../capacity/statistics.js';
import type { Outcome, RawMessage } from '../../core/types.js';

const config = loadPipelineConfig(defaultConfigFile(), {});
const shipped = loadCatalogue(config.catalogue);
const soil = shipped.entries.find((e) => e.measurement === 'agri_soil')!;

const registry: Registry = new Map(
  ['a', 'b', 'c'].map((id) => [id, { id, sector: 'agri' as const, region: '220100', types: ['soil'], criticalInfrastructure: false }]),
);
const msg = (bytes: number, at: number): RawMessage => ({ topic: 't', payload: Buffer.alloc(bytes), receivedAt: at });
const reading = (device: string, version = '1'): Outcome => ({
  ok: true,
  reading: { source: 'agri/220100/soil', measurement: 'agri_soil', tags: { code: soil.code, sector: 'agri', region: '220100', device, grade: 'general', share: 'unconditional', catalog_version: version }, fields: { moisture: { type: 'float', value: 30 }, seq: { type: 'integer', value: 1 } }, timeNs: '0', eventMs: 0, device, seq: 1, receivedAt: 0 },
});
const field = (line: string, name: string) => Number(new RegExp(`[ ,]${name}=([-0-9.e]+)i?`).exec(line)?.[1]);

describe('pipeline statistics', () => {
  it('counts per resource and region, devices online against registered, series per catalogue version, rejects per reason', () => {
    const now = Date.now();
    const s = new PipelineStats({ catalogue: () => shipped, registry: () => registry }, config.capacity, 'test');
    s.observe(reading('a'), msg(100, now));
    s.observe(reading('a'), msg(100, now));
    s.observe(reading('b'), msg(50, now - 3_600_000)); // seen an hour ago: not online (cycle 10 min × 3)
    s.observe(reading('b', '2'), msg(70, now)); // a catalogue version bump makes a new series
    s.observe({ ok: false, rejection: { source: 'agri/220100/soil', reason: 'schema_violation', detail: '', topic: 't', payload: Buffer.alloc(0), receivedAt: now } }, msg(10, now));
    s.stored([(reading('a') as { reading: import('../../core/types.js').Reading }).reading], 40);
    const lines = s.lines(now, { received: 5, stored: 4, deadLettered: 1, inSpool: 0, nacked: 0, pending: 0, spoolBytes: 0, spoolLimit: 1, influxUp: true, mqttConnected: true, reconnects: 2, anomalies: 0, outbox: 0 });
    const stats = lines.find((l) => l.startsWith('pipeline_stats,'))!;
    expect(stats).toContain(`code=${soil.code}`);
    expect([field(stats, 'messages'), field(stats, 'bytes'), field(stats, 'field_values'), field(stats, 'series'), field(stats, 'devices_online'), field(stats, 'devices_registered')]).toEqual([4, 320, 8, 3, 2, 3]);
    expect(lines.find((l) => l.startsWith('pipeline_rejects,'))).toMatch(/reason=schema_violation,region=220100,sector=agri.* count=1i/);
    const health = lines.find((l) => l.startsWith('pipeline_health,'))!;
    expect([field(health, 'unbalanced'), field(health, 'reconnects'), field(health, 'latency_p99_ms')]).toEqual([0, 2, 40]);
    // The interval is drained: counts start again, series and devices stay.
    const next = s.lines(now + 1000, { received: 5, stored: 5, deadLettered: 1, inSpool: 0, nacked: 0, pending: 0, spoolBytes: 0, spoolLimit: 1, influxUp: true, mqttConnected: true, reconnects: 2, anomalies: 0, outbox: 0 });
    const again = next.find((l) => l.startsWith('pipeline_stats,'))!;
    expect([field(again, 'messages'), field(again, 'series')]).toEqual([0, 3]);
    expect(next.some((l) => l.startsWith('pipeline_rejects,'))).toBe(false);
    expect(field(next.find((l) => l.startsWith('pipeline_health,'))!, 'unbalanced')).toBe(-1);
  });

  it('with readings: false (a Kafka gateway) writes only its rejects and health, and no MQTT fields when it has no MQTT', () => {
    const now = Date.now();
    const s = new PipelineStats({ catalogue: () => shipped, registry: () => registry }, config.capacity, 'gateway-1', { readings: false });
    s.observe(reading('a'), msg(100, now));
    s.observe({ ok: false, rejection: { source: 'agri/220100/soil', reason: 'schema_violation', detail: '', topic: 't', payload: Buffer.alloc(0), receivedAt: now } }, msg(10, now));
    const lines = s.lines(now, { received: 2, stored: 1, deadLettered: 1, inSpool: 0, nacked: 0, pending: 0, spoolBytes: 0, spoolLimit: 1, influxUp: true, mqttConnected: true, reconnects: 0, anomalies: 0, outbox: 0 });
    expect(lines.some((l) => l.startsWith('pipeline_stats,'))).toBe(false);
    expect(lines.find((l) => l.startsWith('pipeline_rejects,'))).toMatch(/instance=gateway-1.* count=1i/);
    expect(lines.find((l) => l.startsWith('pipeline_health,'))).toMatch(/^pipeline_health,instance=gateway-1 .*mqtt_connected=T/);
    expect(s.budgetAnomalies(now)).toEqual([]);
    // A worker has no MQTT: the fields are left out rather than written false.
    const worker = new PipelineStats({ catalogue: () => shipped, registry: () => registry }, config.capacity, 'worker-1');
    const health = worker.lines(now, { received: 0, stored: 0, deadLettered: 0, inSpool: 0, nacked: 0, pending: 0, spoolBytes: 0, spoolLimit: 1, influxUp: true, anomalies: 0, outbox: 0 }).find((l) => l.startsWith('pipeline_health,'))!;
    expect(health).not.toMatch(/mqtt_connected|reconnects/);
  });

  it('raises a cardinality-budget anomaly once, and again only after the resource fell back under budget', () => {
    let catalogue: Catalogue = { ...shipped, entries: shipped.entries.map((e) => (e === soil ? { ...e, cardinalityBudget: 2 } : e)) };
    const s = new PipelineStats({ catalogue: () => catalogue, registry: () => registry }, config.capacity, 'test');
    s.observe(reading('a'), msg(1, 0));
    s.observe(reading('b'), msg(1, 0));
    expect(s.budgetAnomalies(1)).toEqual([]);
    s.observe(reading('c'), msg(1, 0));
    const [a] = s.budgetAnomalies(2);
    expect(a).toMatchObject({ detector: 'capacity', kind: 'cardinality_budget', category: 'security-hazard', sector: 'agri', region: PROVINCE, code: soil.code, value: 3 });
    expect(a.detail).toMatch(/3 series, over its catalogue cardinality budget of 2/);
    expect(s.budgetAnomalies(3)).toEqual([]);
    catalogue = shipped; // budget raised: back under
    expect(s.budgetAnomalies(4)).toEqual([]);
    catalogue = { ...shipped, entries: shipped.entries.map((e) => (e === soil ? { ...e, cardinalityBudget: 2 } : e)) };
    expect(s.budgetAnomalies(5)).toHaveLength(1);
  });
});
