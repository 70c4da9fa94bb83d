import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import { anomalyOf, decodeEntries, ExpiringState, isNum, num, obj, type Entry } from '../state.js';
import type { V2xConfig } from './config.js';

const EARTH_M = 6_371_000;
const rad = (d: number) => (d * Math.PI) / 180;

/** Great-circle distance in metres. */
export function haversine(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const a = Math.sin(rad(lat2 - lat1) / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(rad(lon2 - lon1) / 2) ** 2;
  return 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

interface Position {
  lat: number;
  lon: number;
  t: number;
}

/**
 * V2X position plausibility (VeReMi-style speed check): consecutive positions of one vehicle
 * (its pseudonymised id) implying a speed above `maxSpeed` are a GPS spoofing signal.
 * A vehicle's state belongs to the device (roadside unit) that last reported it: that is what a
 * device snapshot carries (found by a scan: vehicles are keyed by their own id).
 */
export function v2xDetector(cfg: V2xConfig): Detector {
  const vehicles = new ExpiringState<Position & { dev: string }>();
  const position = obj<Position>({ lat: isNum, lon: isNum, t: isNum });
  return {
    name: 'v2x',
    reading(i: DetectInput, emit: Emit) {
      if (!cfg.measurements.includes(i.entry.measurement) || i.outOfOrder) return;
      const id = i.reading.fields.vehicle_id?.value;
      const lat = num(i, 'lat');
      const lon = num(i, 'lon');
      if (typeof id !== 'string' || lat === undefined || lon === undefined) return;
      const t = i.reading.eventMs;
      const prev = vehicles.peek(id);
      vehicles.get(id, t, () => ({ lat, lon, t, dev: i.device.id }));
      const s = vehicles.peek(id)!;
      if (prev && t >= prev.t && t - prev.t <= cfg.maxGapMs) {
        const d = haversine(prev.lat, prev.lon, lat, lon);
        const dt = Math.max((t - prev.t) / 1000, 0.001);
        if (d > cfg.minJumpM && d / dt > cfg.maxSpeed) {
          emit(anomalyOf(i, { detector: 'v2x', kind: 'position_jump', category: 'network-attack', field: 'lat', value: Math.round(d / dt), detail: `vehicle ${id} moved ${Math.round(d)} m in ${dt.toFixed(1)} s (${Math.round(d / dt)} m/s): implausible position` }));
        }
      }
      Object.assign(s, { lat, lon, t, dev: i.device.id });
    },
    expire: (before) => vehicles.expire(before),
    size: () => vehicles.size,
    snapshot(device) {
      const out: Entry[] = [];
      for (const [id, s, at] of vehicles.entries()) if (s.dev === device) out.push([id, at, { lat: s.lat, lon: s.lon, t: s.t }]);
      return out.length ? out : undefined;
    },
    restore(device, snap) {
      const list = snap === undefined ? [] : decodeEntries(snap, position);
      for (const [id, s] of [...vehicles.entries()]) if (s.dev === device) vehicles.delete(id);
      // A vehicle seen since by another roadside unit keeps its newer position.
      for (const [id, at, p] of list) if (!((vehicles.peek(id)?.t ?? -Infinity) > p.t)) vehicles.set(id, { ...p, dev: device }, at);
    },
  };
}
