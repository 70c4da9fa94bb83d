/** One line of a chart. */
export interface ChartLine {
  label: string;
  points: [number, number][];
  colour: string;
  dashed?: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const W = 720;
const H = 260;
const PAD = { left: 70, right: 20, top: 30, bottom: 40 };

/** A small self-contained SVG line chart (time on x) for the capacity report. */
export function lineChart(title: string, lines: ChartLine[], format: (v: number) => string, limit?: { value: number; label: string }): string {
  const all = lines.flatMap((l) => l.points);
  if (!all.length) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="60"><text x="10" y="30">${esc(title)}: no data</text></svg>\n`;
  const t0 = Math.min(...all.map((p) => p[0]));
  const t1 = Math.max(...all.map((p) => p[0]), t0 + 1);
  const vmax = Math.max(...all.map((p) => p[1]), limit && Number.isFinite(limit.value) ? limit.value : 0) * 1.05 || 1;
  const x = (t: number) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / vmax) * (H - PAD.top - PAD.bottom);
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${PAD.left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}" stroke="#888"/>`,
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${H - PAD.bottom}" stroke="#888"/>`,
    `<text x="${PAD.left - 4}" y="${y(vmax / 1.05) + 4}" text-anchor="end">${esc(format(vmax / 1.05))}</text>`,
    `<text x="${PAD.left - 4}" y="${H - PAD.bottom + 4}" text-anchor="end">0</text>`,
    `<text x="${PAD.left}" y="${H - PAD.bottom + 16}">${day(t0)}</text>`,
    `<text x="${W - PAD.right}" y="${H - PAD.bottom + 16}" text-anchor="end">${day(t1)}</text>`,
  ];
  if (limit && Number.isFinite(limit.value)) {
    parts.push(`<line x1="${PAD.left}" y1="${y(limit.value)}" x2="${W - PAD.right}" y2="${y(limit.value)}" stroke="#d62728" stroke-dasharray="2,3"/>`);
    parts.push(`<text x="${W - PAD.right}" y="${y(limit.value) - 4}" text-anchor="end" fill="#d62728">${esc(limit.label)}</text>`);
  }
  lines.forEach((l, i) => {
    if (!l.points.length) return;
    const d = l.points.map(([t, v], j) => `${j ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${l.colour}" stroke-width="1.5"${l.dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
    parts.push(`<text x="${PAD.left + 10 + i * 140}" y="${H - 8}" fill="${l.colour}">${esc(l.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
