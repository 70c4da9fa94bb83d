/**
 * Indices of the lines an InfluxDB error message names: 1.x and 2.x quote each line they could
 * not parse (`unable to parse '<line>': ...`). Undefined unless every quoted line is found, so
 * the runtime falls back to isolating them itself.
 */
export function refusedLines(body: string, lines: string[]): number[] | undefined {
  const quoted = [...body.matchAll(/unable to parse '((?:[^'\\]|\\.)*)'/g)].map((m) => m[1]);
  if (!quoted.length) return undefined;
  const out: number[] = [];
  for (const q of quoted) {
    const i = lines.indexOf(q);
    if (i < 0) return undefined;
    out.push(i);
  }
  return out;
}
