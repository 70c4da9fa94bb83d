import { likelihoodSize, likelihoodTail, tailStrength, type LikelihoodParams } from './likelihood.js';

/**
 * The Gaussian z with the same tail as Student's t with `nu` degrees of freedom (Wallace 1959:
 * accurate to a few hundredths for nu >= 1 in the tails that matter here). O(1): one log.
 */
export function tAsZ(t: number, nu: number): number {
  const z = ((8 * nu + 1) / (8 * nu + 3)) * Math.sqrt(nu * Math.log1p((t * t) / nu));
  return t < 0 ? -z : z;
}

/**
 * The scoring core: one numeric series, point by point, O(1) time, a fixed number of floats, no
 * look-ahead. Views of the series, each giving a raw residual score that an anomaly likelihood
 * calibrates against the series' own history:
 * - `level`: Holt's level + trend forecasts the next value; the residual in noise units (clipped
 *   before it moves the baseline, so a fault is not absorbed at once); a CUSUM of the residuals
 *   tells a level shift from a spike.
 * - `daily`: a baseline per hour of the day in the device's local time (mean and mean absolute
 *   deviation per hour, memory of about a week whatever the sampling rate), so a daily cycle is
 *   normal and a usual level at an unusual hour is not.
 * - `range`: a value beyond the range seen so far by more than a share of it.
 * The strength is the highest view's; at or above the sensitivity it is an alert, followed by a
 * bounded silence, so one event alerts once. Used by the spike processor and by `jlpipe nab`.
 */

export type View = 'level' | 'daily' | 'range';

export interface CoreParams extends LikelihoodParams {
  /** Holt smoothing of the level and the trend. */
  alpha: number;
  beta: number;
  /** Smallest weight of a new |residual| in the noise scale: 1 / memory in points. */
  noiseMemory: number;
  /** Residuals are clipped to this many noise units before they move the baseline. */
  clipZ: number;
  /** Residual (noise units) whose raw score is 1. */
  fullZ: number;
  /** CUSUM slack and threshold (noise units): a persistent shift rather than a spike. */
  shiftK: number;
  shiftH: number;
  /** A confirmed shift (CUSUM over shiftH) alerts by itself, like the range rule, and the forecast restarts at the new level. */
  shiftRule: boolean;
  /** Points before the level view's residuals are clipped and its CUSUM runs. */
  warmup: number;
  /** Keep a time-of-day baseline. */
  daily: boolean;
  /** Days of memory of the time-of-day baseline. */
  dailyMemoryDays: number;
  /** Residual from the usual hour (daily noise units) below which the level view's surprise is explained away. */
  explainZ: number;
  /** Floor of an hour's deviation, as a share of the series' overall deviation from its hours. */
  dailyFloor: number;
  /** Day boundaries the series must have crossed before its hours are judged. */
  dailyFromDays: number;
  /** Local time of the device: minutes east of UTC (Beijing: 480). */
  utcOffsetMinutes: number;
  /** The new-range rule, and its tolerance as a share of the range seen. */
  range: boolean;
  rangeTolerance: number;
  /** Alert at this strength (0.5 is a likelihood tail of 1e-5, 1.5 of 1e-15). */
  sensitivity: number;
  /** ...and, for the level and daily views, only with a residual of at least this many noise units (0: any). */
  minZ: number;
  /** Points of silence after an alert. */
  silence: number;
  /** While a view's residual stays at or beyond this (noise units), the event goes on and the silence with it (0: off)... */
  eventZ: number;
  /** ...for at most this many points after its alert. */
  eventMax: number;
}

// One series' state (Float32Array): the header, the two likelihood blocks, then the hours.
const N = 0, LEVEL = 1, TREND = 2, NOISE = 3, UP = 4, DOWN = 5, MIN = 6, MAX = 7, SINCE = 8, DAY = 9, DAYS = 10, SPREAD = 11, EVENT = 12, SPIKED = 13, HEAD = 14;
const HOURS = 24;
// Per hour of day: mean, mean |deviation|, visits.
const H_MEAN = 0, H_DEV = HOURS, H_VISITS = 2 * HOURS, DAILY = 3 * HOURS;
/** E|x - mu| = sigma * sqrt(2 / pi) for Gaussian noise. */
const MAD_TO_SIGMA = Math.sqrt(Math.PI / 2);
const DAY_MS = 86_400_000;
/** Float32 holds integers exactly to 2^24: counters stop here. */
const COUNT_CAP = 1e7;

/** What one point amounts to. The object is reused by the next call: copy what you keep. */
export interface PointScore {
  /** The strength capped at 1: the anomaly score of NAB and of the incident detail. */
  score: number;
  /** How far in its tail the firing view is: -log10(tail) / 10, or 1 for the range rule. */
  strength: number;
  alert: boolean;
  /** The current event, which alerted as a spike (level view), is a lasting level shift: said once. */
  renamed: boolean;
  /** The view with the highest strength (undefined while it is 0 or silenced). */
  view?: View;
  /** The likelihood tail of that view (1 for the range rule). */
  tail: number;
  /** The baseline it was compared with and the noise scale there. */
  expected: number;
  scale: number;
  /** Residual in noise units (level and daily views). */
  z: number;
  /** A persistent shift (CUSUM) rather than a single excursion (level view). */
  shift: boolean;
  /** Local hour (0-23) and weekday (0 = Sunday) of the point, for the daily view's words. */
  hour: number;
  weekday: number;
  /** Range seen before this point (range rule). */
  min: number;
  max: number;
}

interface ViewResult {
  tail: number;
  judged: boolean;
  expected: number;
  scale: number;
  z: number;
}

export class ScoringCore {
  /** Floats of one series' state. */
  readonly size: number;
  private readonly lhDaily: number;
  private readonly hours: number;
  private readonly out: PointScore = { score: 0, strength: 0, alert: false, renamed: false, tail: 1, expected: 0, scale: 0, z: 0, shift: false, hour: 0, weekday: 0, min: 0, max: 0 };
  /** The daily view's residual at the current point (0 without the view), as a z. */
  private dailyZ = 0;
  /** The daily view's z of the last call of daily(). */
  private dailyScoreZ = 0;
  private readonly view: ViewResult = { tail: 1, judged: false, expected: 0, scale: 0, z: 0 };

  constructor(readonly p: CoreParams) {
    const block = likelihoodSize(p.averageOf);
    this.lhDaily = HEAD + block;
    this.hours = this.lhDaily + block;
    this.size = p.daily ? this.hours + DAILY : this.lhDaily;
  }

  /** A fresh state for one series. */
  state(): Float32Array {
    return new Float32Array(this.size);
  }

  /**
   * A state saved before SPIKED was added to the header (2026-12), in today's layout: a worker of
   * the previous release hands over states one number shorter. Undefined for any other length.
   */
  fromPreviousLayout(old: readonly number[]): number[] | undefined {
    if (old.length !== this.size - 1) return undefined;
    return [...old.slice(0, SPIKED), 0, ...old.slice(SPIKED)];
  }

  /** Scores `x` at event time `ms` against the state at offset `o` of `s`, then learns from it. */
  score(s: Float32Array, o: number, ms: number, x: number): PointScore {
    const p = this.p;
    const r = this.out;
    const n = s[o + N] + 1;
    s[o + N] = Math.min(n, COUNT_CAP);
    if (n === 1) s[o + SINCE] = COUNT_CAP;
    const local = ms + p.utcOffsetMinutes * 60_000;
    const day = Math.floor(local / DAY_MS);
    if (day > s[o + DAY] && n > 1) s[o + DAYS] = Math.min(s[o + DAYS] + 1, COUNT_CAP);
    if (day !== s[o + DAY]) s[o + DAY] = day;
    r.hour = Math.floor((local - day * DAY_MS) / 3_600_000);
    r.weekday = (((day + 4) % 7) + 7) % 7;

    this.dailyZ = 0;
    const v = this.level(s, o, n, x);
    const levelZ = v.z;
    const levelTail = v.tail, levelExpected = v.expected, levelScale = v.scale, levelShift = this.out.shift;
    let explained = false;
    let strength = tailStrength(v.tail);
    let view: View = 'level';
    this.take(v);
    if (p.daily) {
      const d = this.daily(s, o, n, x, r.hour);
      // A value usual for its hour explains the level view's surprise away: a daily cycle, even
      // a square wave whose edge moves the forecast, is no event.
      if (d.judged && Math.abs(this.dailyScoreZ) < p.explainZ) {
        explained = true;
        strength = 0;
        r.shift = false;
      }
      const ds = tailStrength(d.tail);
      // The larger strength wins, but a spike both views see is named a spike.
      this.dailyZ = this.dailyScoreZ;
      if (ds > strength && strength < p.sensitivity) {
        strength = ds;
        view = 'daily';
        this.take(d);
        r.shift = false;
      }
    }
    r.min = s[o + MIN];
    r.max = s[o + MAX];
    if (n === 1 || x < r.min) s[o + MIN] = x;
    if (n === 1 || x > r.max) s[o + MAX] = x;
    // Rules alert whatever the sensitivity: a value beyond the range seen, a confirmed shift.
    const rule = Math.max(1, p.sensitivity);
    // The views' residual behind the strength, for minZ (the daily view's as a z).
    const viewZ = view === 'daily' ? this.dailyZ : levelZ;
    let ruled = false;
    if (p.range && n > p.warmup && r.max > r.min) {
      const tol = (r.max - r.min) * p.rangeTolerance;
      if ((x > r.max + tol || x < r.min - tol) && strength < rule) {
        strength = rule;
        ruled = true;
        // A sudden jump past the range (a full-score residual from the forecast) is a spike that
        // also left the range: named by its suddenness, so its name does not depend on how
        // calibrated the level view happens to be at that hour. A drift out of range is new_range.
        if (Math.abs(levelZ) >= p.fullZ && n > p.warmup) {
          view = 'level';
          r.tail = levelTail;
          r.expected = levelExpected;
          r.scale = levelScale;
          r.z = levelZ;
        } else {
          view = 'range';
          r.tail = 1;
        }
      }
    }
    if (p.shiftRule && r.shift && strength < rule && view === 'level') {
      strength = rule;
      ruled = true;
    }
    // One alert per event: after an alert, `silence` points report nothing.
    const since = Math.min(s[o + SINCE] + 1, COUNT_CAP);
    const event = Math.min(s[o + EVENT] + 1, COUNT_CAP);
    s[o + SINCE] = since;
    s[o + EVENT] = event;
    r.alert = false;
    r.renamed = false;
    if (since <= p.silence && p.shiftRule && levelShift && !explained && s[o + SPIKED] === 1) {
      // The event that alerted as a spike turned out to be a lasting shift (the CUSUM confirmed
      // it): not a second alert, the same event renamed, once.
      r.renamed = true;
      strength = rule;
      view = 'level';
      r.shift = true;
      r.tail = levelTail;
      r.expected = levelExpected;
      r.scale = levelScale;
      r.z = levelZ;
      s[o + SINCE] = 0;
      s[o + SPIKED] = 0;
    } else if (since <= p.silence) {
      strength = 0;
      // An event lasts while the series stays far from its baselines, up to eventMax points.
      if (p.eventZ > 0 && Math.max(Math.abs(levelZ), Math.abs(this.dailyZ)) >= p.eventZ && event < p.eventMax) s[o + SINCE] = 0;
    } else if (strength >= p.sensitivity && (ruled || Math.abs(viewZ) >= p.minZ)) {
      // The likelihood fits a Gaussian to the views' raw scores, which understates how often
      // ordinary noise reaches 4 noise units: a view alerts only past minZ of them.
      r.alert = true;
      s[o + SINCE] = 0;
      s[o + EVENT] = 0;
      s[o + SPIKED] = view === 'level' && !r.shift ? 1 : 0;
    }
    r.strength = strength;
    r.score = Math.min(1, strength);
    r.view = strength > 0 ? view : undefined;
    return r;
  }

  private take(v: ViewResult): void {
    this.out.tail = v.tail;
    this.out.expected = v.expected;
    this.out.scale = v.scale;
    this.out.z = v.z;
  }

  private level(s: Float32Array, o: number, n: number, x: number): ViewResult {
    const p = this.p;
    const v = this.view;
    this.out.shift = false;
    if (n === 1) {
      s[o + LEVEL] = x;
      v.tail = likelihoodTail(s, o + HEAD, 0, p);
      v.expected = x;
      v.scale = 0;
      v.z = 0;
      return v;
    }
    const forecast = s[o + LEVEL] + s[o + TREND];
    const res = x - forecast;
    // Floor the scale: quantised or constant series must not divide by zero.
    const scale = Math.max(s[o + NOISE] * MAD_TO_SIGMA, 1e-6 * Math.abs(forecast), 1e-9);
    const z = res / scale;
    const warm = n > p.warmup;
    if (warm) {
      const zc = Math.max(-p.fullZ, Math.min(p.fullZ, z));
      s[o + UP] = Math.max(0, s[o + UP] + zc - p.shiftK);
      s[o + DOWN] = Math.max(0, s[o + DOWN] - zc - p.shiftK);
      // Before its hours are known, a daily ramp the trend has not learnt yet looks like a drift:
      // a series' first day needs twice the evidence for a shift.
      const h = p.daily && s[o + DAYS] < p.dailyFromDays ? 3 * p.shiftH : p.shiftH;
      if (Math.max(s[o + UP], s[o + DOWN]) > h) this.out.shift = true;
    }
    if (this.out.shift && p.shiftRule) {
      // Restart at the new level, keeping the noise scale.
      s[o + LEVEL] = x;
      s[o + TREND] = 0;
      s[o + UP] = 0;
      s[o + DOWN] = 0;
    } else {
      const clip = warm ? p.clipZ * scale : Infinity;
      const lv = p.alpha * (forecast + Math.max(-clip, Math.min(clip, res))) + (1 - p.alpha) * forecast;
      s[o + TREND] = p.beta * (lv - s[o + LEVEL]) + (1 - p.beta) * s[o + TREND];
      s[o + LEVEL] = lv;
      s[o + NOISE] += Math.max(p.noiseMemory, 1 / n) * (Math.min(Math.abs(res), clip) - s[o + NOISE]);
    }
    v.tail = likelihoodTail(s, o + HEAD, Math.min(1, Math.abs(z) / p.fullZ), p);
    v.expected = forecast;
    v.scale = scale;
    v.z = z;
    return v;
  }

  private daily(s: Float32Array, o: number, n: number, x: number, hour: number): ViewResult {
    const p = this.p;
    const v = this.view;
    const b = o + this.hours;
    const visits = s[b + H_VISITS + hour];
    const mean = s[b + H_MEAN + hour];
    const dev = s[b + H_DEV + hour];
    const scale = Math.max(dev, p.dailyFloor * s[o + SPREAD], 1e-9) * MAD_TO_SIGMA;
    // Visits of this hour per day so far: a week's memory whatever the sampling rate.
    const perDay = visits / Math.max(1, s[o + DAYS]);
    const memory = p.dailyMemoryDays * perDay;
    // Hours are judged once the series has seen whole days of them; until then the likelihood
    // learns nothing either, so its first judged residuals are not measured against zeros.
    const judged = visits > 0 && s[o + DAYS] >= p.dailyFromDays;
    let z = 0;
    let t = 0;
    if (visits > 0) {
      const res = x - mean;
      t = res / scale;
      // The hour's mean and deviation are estimated from few readings at first (six on a soil
      // probe's second day): its residual is a Student t, not a Gaussian z. Judged as a z, a few
      // readings that happen to lie close together make ordinary noise look like 7 noise units.
      // Scored as the Gaussian z of the same tail (Wallace's approximation), with as many degrees
      // of freedom as readings remembered.
      z = tAsZ(t, Math.max(1, Math.min(visits, memory) - 1));
      const w = Math.max(1 / (visits + 1), 1 / memory);
      s[b + H_MEAN + hour] = mean + w * res;
      // The deviation averages the residuals seen (the first visit has none).
      s[b + H_DEV + hour] = dev + Math.max(1 / visits, 1 / memory) * (Math.abs(res) - dev);
      s[o + SPREAD] += Math.max(1 / n, p.noiseMemory) * (Math.abs(res) - s[o + SPREAD]);
    } else s[b + H_MEAN + hour] = x;
    s[b + H_VISITS + hour] = Math.min(visits + 1, COUNT_CAP);
    v.judged = judged;
    v.tail = judged ? likelihoodTail(s, o + this.lhDaily, Math.min(1, Math.abs(z) / p.fullZ), p) : 1;
    v.expected = visits > 0 ? mean : x;
    v.scale = scale;
    // Said in noise units, as measured; scored (above) and explained away (score) by its z.
    v.z = t;
    this.dailyScoreZ = z;
    return v;
  }
}
