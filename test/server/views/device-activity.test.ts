import { describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../../app/config.js';
import { loadCatalogue } from '../../../config/catalogue.js';
import type { Device, Registry } from '../../../core/device.js';
import type { Reading } from '../../../core/types.js';
import { DeviceActivity, onlineMatrix } from '../../../server/views/device-activity.js';

const catalogue = loadCatalogue(loadPipelineConfig(defaultConfigFile(), {}).catalogue);
const device = (id: string, sector: string, region: string, types: string[], key?: Buffer): Device => ({ id, sector, region, types, key, criticalInfrastructure: false, sigScheme: 'v1' });
const registry: Registry = new Map([
  ['rsu-1', device('rsu-1', 'v2x', '220100', ['rsu_status', 'bsm'], Buffer.alloc(32))],
  ['soil-1', device('soil-1', 'agri', '220100', ['soil'])],
  ['soil-2', device('soil-2', 'agri', '220182', ['soil'])],
]);
const heard = (id: string) => [{ device: id } as Reading];

describe('device activity (the console\'s devices and devices-online matrix)', () => {
  const cycle = (key: string) => catalogue.byType.get(key)!.updateCycleMs;

  it('calls a device silent after factor x its shortest update cycle, counted from start when never heard', () => {
    const t0 = 1_000_000;
    const a = new DeviceActivity({ factor: 3, minSilenceMs: 15_000 }, t0);
    const rsuQuiet = Math.max(15_000, 3 * Math.min(cycle('v2x/rsu_status'), cycle('v2x/bsm')));
    const at = (now: number) => Object.fromEntries(a.devices(registry, catalogue, now).map((d) => [d.id, d]));
    // Just started: nothing heard, nothing silent yet.
    expect(Object.values(at(t0 + 1000)).map((d) => d.silent)).toEqual([false, false, false]);
    a.stored(heard('rsu-1'), t0 + 2000);
    const later = at(t0 + 2000 + rsuQuiet + 1);
    expect(later['rsu-1']).toMatchObject({ silent: true, lastSeen: t0 + 2000, keyed: true, grade: 'important' });
    const soilQuiet = Math.max(15_000, 3 * cycle('agri/soil'));
    expect(later['soil-1'].silent).toBe(t0 + 2000 + rsuQuiet + 1 - t0 > soilQuiet);
    a.stored(heard('rsu-1'), t0 + 2000 + rsuQuiet);
    expect(at(t0 + 2000 + rsuQuiet + 1)['rsu-1'].silent).toBe(false);
    expect(at(t0 + 1000)['soil-1']).toMatchObject({ keyed: false, grade: 'general', lastSeen: null });
  });

  it('counts online and known devices per sector and division', () => {
    const a = new DeviceActivity({ factor: 3, minSilenceMs: 15_000 }, 0);
    a.stored(heard('soil-1'), 10);
    const m = onlineMatrix(a.devices(registry, catalogue, 10 + 15_000 + 3 * cycle('agri/soil') + 1));
    expect(m).toEqual([
      { sector: 'v2x', region: '220100', online: 0, total: 1 },
      { sector: 'agri', region: '220100', online: 0, total: 1 },
      { sector: 'agri', region: '220182', online: 0, total: 1 },
    ]);
    expect(onlineMatrix(a.devices(registry, catalogue, 20)).filter((c) => c.online === 1)).toHaveLength(3);
  });

  it('reuses its list for 5 s unless the registry or catalogue changed', () => {
    const a = new DeviceActivity({ factor: 3, minSilenceMs: 15_000 }, 0);
    const first = a.recent(registry, catalogue, 1000);
    expect(a.recent(registry, catalogue, 5999)).toBe(first);
    expect(a.recent(registry, catalogue, 6000)).not.toBe(first);
    const other: Registry = new Map(registry);
    expect(a.recent(other, catalogue, 6001)).not.toBe(a.recent(registry, catalogue, 6001));
  });
});
