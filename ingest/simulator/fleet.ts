import { createHmac } from 'node:crypto';
import { Document, YAMLMap, YAMLSeq } from 'yaml';
import type { Sector } from '../../core/types.js';

/** The nine prefecture-level divisions with a point near the centre of each (lat, lon). */
export const REGIONS: Record<string, { name: string; lat: number; lon: number }> = {
  '220100': { name: 'Changchun', lat: 43.817, lon: 125.324 },
  '220200': { name: 'Jilin City', lat: 43.838, lon: 126.549 },
  '220300': { name: 'Siping', lat: 43.166, lon: 124.35 },
  '220400': { name: 'Liaoyuan', lat: 42.888, lon: 125.144 },
  '220500': { name: 'Tonghua', lat: 41.728, lon: 125.94 },
  '220600': { name: 'Baishan', lat: 41.94, lon: 126.424 },
  '220700': { name: 'Songyuan', lat: 45.142, lon: 124.825 },
  '220800': { name: 'Baicheng', lat: 45.62, lon: 122.839 },
  '222400': { name: 'Yanbian', lat: 42.891, lon: 129.509 },
};

/** Kinds of simulated device: which sector, which message types, and a share of the fleet. */
export const DEVICE_KINDS: { kind: string; sector: Sector; types: string[]; weight: number; keyed: boolean }[] = [
  { kind: 'soil', sector: 'agri', types: ['soil'], weight: 2, keyed: false },
  { kind: 'wx', sector: 'agri', types: ['weather'], weight: 1, keyed: false },
  { kind: 'rsu', sector: 'v2x', types: ['rsu_status', 'bsm'], weight: 2, keyed: true },
  { kind: 'meter', sector: 'energy', types: ['meter'], weight: 3, keyed: true },
  { kind: 'heat', sector: 'energy', types: ['heat'], weight: 1, keyed: false },
  { kind: 'mach', sector: 'iiot', types: ['machine'], weight: 2, keyed: true },
];

export interface SimDevice {
  id: string;
  kind: string;
  sector: Sector;
  region: string;
  types: string[];
  key?: string;
}

/** Demo key of a simulated device: derived from the fleet seed so simulator and registry agree. */
export function deviceKey(seed: string, id: string): string {
  return createHmac('sha256', `jl-sim-${seed}`).update(id).digest('hex');
}

/**
 * A deterministic fleet of about `count` devices spread evenly over the nine regions and the
 * device kinds (by weight). Ids look like `meter-220100-0003`.
 */
export function makeFleet(count: number, seed = 'demo'): SimDevice[] {
  const regions = Object.keys(REGIONS);
  const totalWeight = DEVICE_KINDS.reduce((s, k) => s + k.weight, 0);
  const perRegion = Math.max(1, Math.round(count / regions.length));
  const devices: SimDevice[] = [];
  for (const region of regions) {
    let made = 0;
    for (const [i, k] of DEVICE_KINDS.entries()) {
      const n = i === DEVICE_KINDS.length - 1 ? perRegion - made : Math.max(1, Math.round((perRegion * k.weight) / totalWeight));
      for (let j = 1; j <= Math.max(0, n); j++) {
        const id = `${k.kind}-${region}-${String(j).padStart(4, '0')}`;
        devices.push({ id, kind: k.kind, sector: k.sector, region, types: k.types, ...(k.keyed ? { key: deviceKey(seed, id) } : {}) });
      }
      made += n;
    }
  }
  return devices;
}

/** The registry YAML of a fleet (the format of config/devices.yaml). */
export function registryYaml(fleet: SimDevice[], header = ''): string {
  const list = fleet.map(({ id, sector, region, types, key, kind }) => ({ id, sector, region, types, ...(key ? { key } : {}), ...(kind === 'meter' ? { criticalInfrastructure: true } : {}) }));
  const doc = new Document(list, { aliasDuplicateObjects: false });
  for (const item of (doc.contents as YAMLSeq<YAMLMap>).items) item.flow = true; // one device per line
  return header + doc.toString({ lineWidth: 0 });
}
