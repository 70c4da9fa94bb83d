import type { SimDevice } from './fleet.js';
import { REGIONS } from './fleet.js';

/** A seeded PRNG (mulberry32): the same seed gives the same fleet behaviour. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Per-device state that must carry on between messages (counters, positions). */
interface DeviceState {
  base: number;
  energy: number;
  heat: number;
  good: number;
  reject: number;
  vehicles: { id: string; lat: number; lon: number; heading: number; speed: number; msgCnt: number }[];
}

/**
 * Generates realistic `data` for each message type: daily cycles in local time (UTC+8), noise,
 * monotonic counters, vehicles that move at plausible speeds.
 */
export class ReadingGenerator {
  private readonly state = new Map<string, DeviceState>();
  constructor(private readonly rand: () => number) {}

  private gauss(): number {
    const u = 1 - this.rand();
    const v = this.rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  private stateOf(d: SimDevice): DeviceState {
    let s = this.state.get(d.id);
    if (!s) {
      const r = REGIONS[d.region];
      s = {
        base: this.rand(),
        energy: round(1000 + this.rand() * 50000, 2),
        heat: round(100 + this.rand() * 5000, 3),
        good: 0,
        reject: 0,
        vehicles: Array.from({ length: 5 }, () => ({
          id: Array.from({ length: 16 }, () => '0123456789ABCDEF'[Math.floor(this.rand() * 16)]).join(''),
          lat: r.lat + (this.rand() - 0.5) * 0.1,
          lon: r.lon + (this.rand() - 0.5) * 0.1,
          heading: this.rand() * 360,
          speed: 5 + this.rand() * 20,
          msgCnt: 0,
        })),
      };
      this.state.set(d.id, s);
    }
    return s;
  }

  /** `data` of one message of `type` from device `d` at time `ms`, `dtSec` after its previous one. */
  data(d: SimDevice, type: string, ms: number, dtSec = 1): Record<string, number | string | boolean> {
    const s = this.stateOf(d);
    const hour = ((ms / 3_600_000 + 8) % 24 + 24) % 24; // Beijing time
    const day = Math.sin(((hour - 9) / 24) * 2 * Math.PI); // peaks mid-afternoon
    const n = () => this.gauss();
    switch (type) {
      case 'soil':
        return {
          moisture: round(clamp(28 + 8 * s.base - 3 * day + n(), 0, 100), 1),
          temperature: round(clamp(12 + 6 * day + 0.5 * n(), -40, 80), 1),
          ec: Math.round(clamp(400 + 300 * s.base + 20 * n(), 0, 20000)),
          ph: round(clamp(6.5 + s.base - 0.5 + 0.05 * n(), 3, 9), 2),
          n: Math.round(clamp(120 + 40 * s.base + 3 * n(), 0, 2999)),
          p: Math.round(clamp(30 + 10 * s.base + n(), 0, 2999)),
          k: Math.round(clamp(150 + 50 * s.base + 3 * n(), 0, 2999)),
        };
      case 'weather':
        return {
          air_temperature: round(clamp(8 + 9 * day + n(), -40, 60), 1),
          humidity: round(clamp(60 - 20 * day + 3 * n(), 0, 100), 1),
          rainfall: this.rand() < 0.05 ? round(0.2 * Math.ceil(this.rand() * 10), 1) : 0,
          co2: Math.round(clamp(420 - 30 * day + 10 * n(), 0, 10000)),
          light: Math.round(clamp(hour > 5 && hour < 19 ? 60000 * Math.sin(((hour - 5) / 14) * Math.PI) + 2000 * n() : 0, 0, 200000)),
        };
      case 'rsu_status':
        return {
          cpu: round(clamp(25 + 20 * day + 5 * n(), 0, 100), 1),
          temperature: round(clamp(35 + 8 * day + n(), -40, 85), 1),
          vehicles: Math.max(0, Math.round(20 + 15 * day + 3 * n())),
          online: true,
        };
      case 'bsm': {
        const v = s.vehicles[Math.floor(this.rand() * s.vehicles.length)];
        v.speed = clamp(v.speed + 0.5 * n(), 0, 33);
        v.heading = (v.heading + 2 * n() + 360) % 360;
        const dist = v.speed * Math.min(dtSec, 5);
        v.lat += (dist * Math.cos((v.heading * Math.PI) / 180)) / 111_320;
        v.lon += (dist * Math.sin((v.heading * Math.PI) / 180)) / (111_320 * Math.cos((v.lat * Math.PI) / 180));
        v.msgCnt = (v.msgCnt + 1) % 128;
        return {
          vehicle_id: v.id,
          lat: round(v.lat, 7),
          lon: round(v.lon, 7),
          speed: round(v.speed, 2),
          heading: round(v.heading, 4),
          accel_long: round(clamp(0.3 * n(), -20, 20), 2),
          msg_cnt: v.msgCnt,
        };
      }
      case 'meter': {
        const va = 220 + 3 * n();
        const ia = clamp(8 + 6 * (day + 1) * (0.5 + s.base) + n(), 0, 999);
        const pf = clamp(0.92 + 0.02 * n(), 0.5, 1);
        const phases = [va, 220 + 3 * n(), 220 + 3 * n()];
        const currents = [ia, ia * (0.9 + 0.2 * this.rand()), ia * (0.9 + 0.2 * this.rand())];
        const power = phases.reduce((sum, v, i) => sum + v * currents[i] * pf, 0) / 1000;
        s.energy = round(s.energy + (power * dtSec) / 3600, 2);
        return {
          voltage_a: round(phases[0], 1),
          voltage_b: round(phases[1], 1),
          voltage_c: round(phases[2], 1),
          current_a: round(currents[0], 3),
          current_b: round(currents[1], 3),
          current_c: round(currents[2], 3),
          active_power: round(power, 3),
          power_factor: round(pf, 3),
          frequency: round(50 + 0.03 * n(), 2),
          energy_total: s.energy,
        };
      }
      case 'heat': {
        const supply = clamp(75 - 10 * day + n(), 0, 150);
        const ret = clamp(supply - 20 + n(), 0, 150);
        const flow = clamp(40 + 20 * s.base + 2 * n(), 0, 2000);
        s.heat = round(s.heat + (flow * (supply - ret) * 4.186e-3 * dtSec) / 3600, 3);
        return { flow_rate: round(flow, 2), supply_temp: round(supply, 1), return_temp: round(ret, 1), heat_total: s.heat, pressure: round(clamp(0.6 + 0.02 * n(), 0, 2.5), 3) };
      }
      case 'machine': {
        const made = Math.max(1, Math.round(dtSec * (2 + this.rand())));
        const bad = this.rand() < 0.03 ? 1 : 0;
        s.good += made - bad;
        s.reject += bad;
        return {
          identifier: `88.101.5/${d.id}`,
          vibration_rms: round(clamp(1.2 + 0.6 * s.base + 0.1 * n(), 0, 100), 3),
          spindle_speed: Math.round(clamp(12000 + 500 * n(), 0, 60000)),
          temperature: round(clamp(45 + 5 * day + n(), -40, 200), 1),
          pressure: round(clamp(6 + 0.1 * n(), 0, 100), 2),
          good_count: s.good,
          reject_count: s.reject,
        };
      }
      default:
        throw new Error(`no generator for message type ${type}`);
    }
  }
}
