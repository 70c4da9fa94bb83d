import { GRADE_RANK, type Catalogue, type Grade } from '../../core/catalogue.js';
import type { Registry } from '../../core/device.js';
import type { Reading } from '../../core/types.js';

const MEMO_MS = 5000;

/** One registered device as the console shows it. */
export interface DeviceView {
  id: string;
  sector: string;
  region: string;
  types: string[];
  keyed: boolean;
  criticalInfrastructure: boolean;
  /** The highest grade of the data it sends (decides who may see it). */
  grade: Grade;
  /** When a reading of it was last stored (wall clock, ms), null if never since start. */
  lastSeen: number | null;
  /** Not heard for `factor` x its shortest update cycle (at least `minSilenceMs`), counted from start when never heard. */
  silent: boolean;
}

/**
 * When each device was last heard (a reading stored), for the console's device list and the
 * overview's devices-online matrix. Wall clock, not event time: the operator asks "is it
 * talking to us now". Silence uses the silence detector's rule and settings.
 */
export class DeviceActivity {
  private readonly last = new Map<string, number>();
  private memo?: { at: number; registry: Registry; catalogue: Catalogue; list: DeviceView[] };

  /** `since`: when listening began; a device not heard since is silent only once it has been quiet that long. */
  constructor(
    private readonly silence: { factor: number; minSilenceMs: number },
    private readonly since = Date.now(),
  ) {}

  /** Runtime listener: readings stored at `at`. */
  readonly stored = (readings: Reading[], at: number): void => {
    for (const r of readings) this.last.set(r.device, at);
  };

  /**
   * The devices as of at most MEMO_MS ago (the same registry and catalogue): the console asks
   * every second per clearance, and 100,000 devices take about 0.1 s to go through.
   */
  recent(registry: Registry, catalogue: Catalogue, now = Date.now()): DeviceView[] {
    const m = this.memo;
    if (m && now - m.at < MEMO_MS && m.registry === registry && m.catalogue === catalogue) return m.list;
    const list = this.devices(registry, catalogue, now);
    this.memo = { at: now, registry, catalogue, list };
    return list;
  }

  devices(registry: Registry, catalogue: Catalogue, now = Date.now()): DeviceView[] {
    const out: DeviceView[] = [];
    for (const d of registry.values()) {
      let cycle = Infinity;
      let grade: Grade = 'general';
      for (const t of d.types) {
        const e = catalogue.byType.get(`${d.sector}/${t}`);
        if (!e) continue;
        cycle = Math.min(cycle, e.updateCycleMs);
        if (GRADE_RANK[e.grade] > GRADE_RANK[grade]) grade = e.grade;
      }
      const seen = this.last.get(d.id);
      const quietFor = Math.max(this.silence.minSilenceMs, this.silence.factor * (Number.isFinite(cycle) ? cycle : 0));
      out.push({
        id: d.id,
        sector: d.sector,
        region: d.region,
        types: d.types,
        keyed: d.key !== undefined,
        criticalInfrastructure: d.criticalInfrastructure,
        grade,
        lastSeen: seen ?? null,
        silent: now - (seen ?? this.since) > quietFor,
      });
    }
    return out;
  }
}

/** Devices online and known per sector and region (the overview's matrix). */
export function onlineMatrix(devices: DeviceView[]): { sector: string; region: string; online: number; total: number }[] {
  const cells = new Map<string, { sector: string; region: string; online: number; total: number }>();
  for (const d of devices) {
    const k = `${d.sector}/${d.region}`;
    let c = cells.get(k);
    if (!c) cells.set(k, (c = { sector: d.sector, region: d.region, online: 0, total: 0 }));
    c.total++;
    if (!d.silent) c.online++;
  }
  return [...cells.values()];
}
