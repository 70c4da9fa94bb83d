import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Ledger } from '../../core/ledger.js';
import type { Reading } from '../../core/types.js';
import { AutoWriter } from '../../storage/influx/auto-writer.js';
import { InfluxSink } from '../../storage/influx/sink.js';
import { Spool } from '../../storage/spool/spool.js';
import { LocalInfluxd } from '../../services/influxd.js';
import { countPoints, rows } from '../helpers/influx.js';
import { tempDir, uniqueName } from '../helpers/services.js';

const reading = (i: number, device: string): Reading => ({
  source: 'agri/220100/soil',
  measurement: 'agri_soil',
  tags: { device, region: '220100' },
  fields: { moisture: { type: 'float', value: i }, seq: { type: 'integer', value: i } },
  timeNs: String(1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n),
  eventMs: 1_700_000_000_000 + i,
  device,
  seq: i,
  receivedAt: Date.now(),
});

// Against the real influxd 1.6: the v1 path is detected, the database created, and a batch
// with points InfluxDB refuses is bisected so only those points are dead-lettered.
describe('InfluxDB sink on a real influxd', () => {
  let influxd: LocalInfluxd;
  beforeAll(async () => {
    influxd = process.env.JL_INFLUX_URL ? (undefined as never) : await LocalInfluxd.start(tempDir('jl-influx-'));
  });
  afterAll(async () => {
    await influxd?.stop();
  });
  const url = () => process.env.JL_INFLUX_URL ?? influxd.url;

  it('detects the v1 API on 1.6, creates the database and isolates refused points', async () => {
    const db = uniqueName('jl_sink');
    const target = { url: url(), database: db, retentionPolicy: '', org: '', bucket: db, token: '', username: '', password: '', timeoutMs: 5000, gzip: true };
    const writer = new AutoWriter(target, 'auto');
    await writer.init();
    expect(writer.server?.version).toMatch(/^1\.6/);
    expect(writer.api).toBe('v1');
    // A conflicting field type for device "bad": its points will be refused as written.
    await writer.write(['agri_soil,device=bad,region=220100 moisture="wet",seq=0i 1699999999999000000']); // same shard as the batch
    const ledger = new Ledger();
    const sink = new InfluxSink(writer, new Spool(tempDir(), { maxBytes: 1 << 20, segmentBytes: 1 << 16 }), ledger, pino({ level: 'silent' }), { retries: 0, retryMinMs: 1, retryMaxMs: 1, replayBatch: 100, probeMs: 50, alarmRatio: 0.8 }, async () => {});
    const batch = Array.from({ length: 40 }, (_, i) => reading(i + 1, i % 13 === 0 ? 'bad' : 'good'));
    const refused = await sink.write(batch);
    // In InfluxDB 1.x a field's type is fixed per shard, so every point of that measurement and field conflicts.
    expect(refused.length).toBe(40);
    expect(refused[0].detail).toMatch(/field type conflict/);

    const other = batch.map((r) => ({ ...r, measurement: 'agri_weather' }));
    expect(await sink.write(other)).toEqual([]);
    expect(await countPoints(url(), db, 'agri_weather')).toBe(40);
    expect(ledger.totals().stored).toBe(40);
    await sink.close();
  });

  it('writes tag and string values with every special character byte-for-byte', async () => {
    const db = uniqueName('jl_escape');
    const writer = new AutoWriter({ url: url(), database: db, retentionPolicy: '', org: '', bucket: db, token: '', username: '', password: '', timeoutMs: 5000, gzip: false }, 'auto');
    const sink = new InfluxSink(writer, new Spool(tempDir(), { maxBytes: 1 << 20, segmentBytes: 1 << 16 }), new Ledger(), pino({ level: 'silent' }), { retries: 0, retryMinMs: 1, retryMaxMs: 1, replayBatch: 100, probeMs: 50, alarmRatio: 0.8 }, async () => {});
    // Tag values come from device ids (no whitespace, no trailing backslash: line protocol
    // cannot carry those in a tag); string fields can carry anything.
    const nasty = 'a b,c=d"e\\f\'g\nh\ti 吉林 🚜 \\';
    const device = 'a,b=c"d\\e\'f吉林🚜';
    const r: Reading = { ...reading(1, device), measurement: 'iiot_machine', fields: { identifier: { type: 'string', value: nasty }, seq: { type: 'integer', value: 1 } } };
    expect(await sink.write([r])).toEqual([]);
    const got = await rows(url(), db, 'SELECT "identifier", "device" FROM "iiot_machine"');
    expect(got).toHaveLength(1);
    expect(got[0].identifier).toBe(nasty);
    expect(got[0].device).toBe(device);
    await sink.close();
  });
});
