import { higherGrade, type Grade } from '../../../config/catalogue.js';
import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { RegionBuckets, type TickCounts } from '../region/buckets.js';
import type { RegionPartialSource, SilencePartial } from '../region/partials.js';
import { ExpiringState, isBool, isGrade, isNum, isStr, obj, perDevice } from '../state.js';
import type { SilenceConfig } from './config.js';
import { isQuiet, regionOutageAnomaly, stepOutage } from './rules.js';

interface DeviceClock {
  last: number;
  cycle: number;
  sector: string;
  region: string;
  code: string;
  grade: Grade;
  critical: boolean;
  silent: boolean;
}

/**
 * Silence (deadman), in event time: a device whose newest reading is more than `factor` x its
 * update cycle behind the watermark is silent (once per silence; it clears when the device
 * speaks). When `regionRatio` of a sector-region's known devices are silent together, the
 * region is (possible outage: power, network or an attack on the gateway). With `regionPartials`
 * it leaves regions to a RegionAggregator judging over all workers: each tick's region counts
 * are kept per event-time bucket of its watermark (`regionBucketMs`) for `regionPartials()`.
 */
export function silenceDetector(cfg: SilenceConfig, regionPartials = false): Detector & RegionPartialSource {
  const devices = new ExpiringState<DeviceClock>();
  const regionsDown = new Set<string>();
  const buckets = regionPartials ? new RegionBuckets(cfg.regionBucketMs) : undefined;
  type Counts = { total: number; silent: number; code: string; grade: Grade; critical: boolean; sector: string; region: string };
  // A tick scans every device; with 100,000 devices and a tick a second that is most of this
  // processor's cost. The scan is skipped while its result cannot differ from the last one: no
  // device came, went, spoke after a silence or changed its facts, and the watermark has not
  // passed the earliest time any device could fall silent.
  let last: Map<string, Counts> | undefined;
  let changed = true;
  let nextQuiet = -Infinity;
  const snapshots = perDevice(devices, obj<DeviceClock>({ last: isNum, cycle: isNum, sector: isStr, region: isStr, code: isStr, grade: isGrade, critical: isBool, silent: isBool }));
  /** Counts each region's known and silent devices, raising each device's silence once. */
  function scan(watermark: number, emit: Emit, watermarkOf?: (device: string) => number): Map<string, Counts> {
    const regions = new Map<string, Counts>();
    let quietFrom = Infinity;
    // The same counts by sector, then region: found per device without building a key string.
    const bySector = new Map<string, Map<string, Counts>>();
    for (const [id, d] of devices.entries()) {
      const at = watermarkOf ? watermarkOf(id) : watermark;
      const quiet = isQuiet(cfg, d.last, d.cycle, at);
      if (!quiet) quietFrom = Math.min(quietFrom, d.last + Math.max(cfg.minSilenceMs, cfg.factor * d.cycle));
      else if (!d.silent) {
        d.silent = true;
        emit({ detector: 'silence', kind: 'device', category: 'device-fault', baseLevel: 4, sector: d.sector, region: d.region, device: id, code: d.code, grade: d.grade, criticalInfrastructure: d.critical, eventMs: at, detail: `no reading for ${Math.round((at - d.last) / 1000)} s (update cycle ${d.cycle / 1000} s)` });
      }
      let inSector = bySector.get(d.sector);
      if (!inSector) bySector.set(d.sector, (inSector = new Map<string, Counts>()));
      let g = inSector.get(d.region);
      if (!g) {
        g = { total: 0, silent: 0, code: d.code, grade: d.grade, critical: false, sector: d.sector, region: d.region };
        inSector.set(d.region, g);
        regions.set(`${d.sector}/${d.region}`, g);
      }
      g.total++;
      if (d.silent) g.silent++;
      g.critical ||= d.critical;
      g.grade = higherGrade(g.grade, d.grade);
    }
    // Only a whole scan may be reused: an emit that throws leaves `changed` set, so the next tick scans again.
    changed = false;
    nextQuiet = quietFrom;
    return (last = regions);
  }

  return {
    name: 'silence',
    reading(i: DetectInput) {
      const r = i.reading;
      const d = devices.get(i.device.id, r.eventMs, () => {
        changed = true;
        return { last: r.eventMs, cycle: i.entry.updateCycleMs, sector: i.device.sector, region: i.device.region, code: i.entry.code, grade: i.entry.grade, critical: i.device.criticalInfrastructure, silent: false };
      });
      d.last = Math.max(d.last, r.eventMs);
      const grade = higherGrade(d.grade, i.entry.grade);
      if (d.silent || grade !== d.grade || i.entry.updateCycleMs < d.cycle) changed = true;
      d.cycle = Math.min(d.cycle, i.entry.updateCycleMs);
      d.grade = grade;
      d.silent = false;
    },
    tick(watermark: number, emit: Emit, watermarkOf?: (device: string) => number) {
      const regions = !changed && !watermarkOf && last && watermark <= nextQuiet ? last : scan(watermark, emit, watermarkOf);
      if (buckets) {
        // The counts at this tick's event time, so workers' counts add up per event time, not per report.
        const counts = new Map<string, TickCounts>();
        for (const [key, g] of regions) counts.set(key, { facts: { sector: g.sector, region: g.region, code: g.code, grade: g.grade, criticalInfrastructure: g.critical }, total: g.total, silent: g.silent });
        buckets.tick(watermark, counts);
        return;
      }
      for (const [key, g] of regions) {
        if (stepOutage(cfg, regionsDown, key, g.silent, g.total)) emit(regionOutageAnomaly({ sector: g.sector, region: g.region, code: g.code, grade: g.grade, criticalInfrastructure: g.critical }, g.silent, g.total, watermark));
      }
    },
    expire: (before) => devices.expire(before, () => (changed = true)),
    size: () => devices.size,
    // `silent` goes too, so the new worker does not raise the same silence again.
    snapshot: snapshots.snapshot,
    restore(device, snap) {
      changed = true;
      snapshots.restore(device, snap);
    },
    regionPartials(): SilencePartial[] {
      return buckets?.take() ?? [];
    },
  };
}
