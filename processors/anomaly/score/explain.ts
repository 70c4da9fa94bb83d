import type { PointScore } from './core.js';

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const num = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));
/** Residuals in noise units; a series that was constant has next to no noise, so any change is "over 1000". */
const units = (z: number) => (Math.abs(z) >= 1000 ? 'over 1000' : Math.abs(z).toFixed(1));
const hh = (h: number) => `${String(h).padStart(2, '0')}:00`;

/** How a ratio to the baseline reads: "3.1x the usual" or "0.40x the usual"; none near 1, where noise units say more. */
function ratio(x: number, expected: number): string | undefined {
  if (!(Math.abs(expected) > 1e-9) || Math.sign(x) !== Math.sign(expected)) return undefined;
  const r = x / expected;
  if (r > 0.67 && r < 1.5) return undefined;
  return r >= 10 ? `${r.toFixed(0)}x` : r >= 1 ? `${r.toFixed(1)}x` : `${r.toFixed(2)}x`;
}

/**
 * One line an operator can act on: which view fired, against which baseline, and how unusual it
 * is for this series ("daily view: 31.2 is 3.1x the usual Tuesday 14:00 level of 10.1 (noise
 * 1.2); likelihood 1 in 3e+7").
 */
export function explain(field: string, x: number, r: PointScore): string {
  const odds = r.tail >= 1 ? '' : r.tail < 1e-30 ? '; likelihood under 1 in 1e30' : `; likelihood 1 in ${(1 / r.tail).toPrecision(2)}`;
  switch (r.view) {
    case 'daily': {
      const times = ratio(x, r.expected);
      const what = times ? `${times} the usual` : `${units(r.z)} noise units ${r.z > 0 ? 'above' : 'below'} the usual`;
      return `${field} unusual for the time of day: ${num(x)} is ${what} ${WEEKDAYS[r.weekday]} ${hh(r.hour)} level of ${num(r.expected)} (noise ${num(r.scale)})${odds}`;
    }
    case 'range':
      return `${field} outside every value seen so far: ${num(x)} against ${num(r.min)} to ${num(r.max)}`;
    default: {
      const what = r.renamed ? 'the spike is a lasting level shift' : r.shift ? 'level shift' : 'spike';
      return `${what} in ${field}: ${num(x)} is ${units(r.z)} noise units from the forecast ${num(r.expected)} (noise ${num(r.scale)})${odds}`;
    }
  }
}
