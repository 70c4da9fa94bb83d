import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../config/paths.js';
import { buildDashboards } from '../../dashboards/build.js';
import type { InfluxQLDataquery } from '../../dashboards/influxql.js';

/** Grafana's unit ids (its unit picker's list, with the source it was taken from). */
const grafana = JSON.parse(readFileSync(join(packageRoot(), 'test', 'fixtures', 'grafana-units.json'), 'utf8')) as { customPrefixes: string[]; categories: Record<string, string[]> };
const UNIT_IDS = new Set(Object.values(grafana.categories).flat());
const isGrafanaUnit = (u: string) => UNIT_IDS.has(u) || grafana.customPrefixes.some((p) => u.startsWith(p) && u.length > p.length);

interface Steps {
  steps?: { value: number | null; color: string }[];
}
interface FieldConfig {
  defaults?: { unit?: string; thresholds?: Steps };
  overrides?: { properties: { id: string; value: unknown }[] }[];
}
interface Annotation {
  name: string;
  datasource?: { type?: string };
  target?: InfluxQLDataquery;
  [k: string]: unknown;
}

/** Column names an InfluxQL SELECT returns: `"x" AS "y"` gives y, a bare `"x"` gives x. */
function selectedColumns(query: string): Set<string> {
  const list = /^SELECT (.*?) FROM /i.exec(query)?.[1] ?? '';
  const out = new Set<string>();
  for (const part of list.split(/,\s*/)) {
    const as = /AS "([^"]+)"\s*$/i.exec(part);
    const bare = /^"([^"]+)"$/.exec(part.trim());
    if (as) out.add(as[1]);
    else if (bare) out.add(bare[1]);
  }
  return out;
}

// Issue 14, "what the operator sees must be right": every unit is one Grafana knows, threshold
// steps rise and are distinct, annotations use the InfluxDB data source's own field names.
describe('what the dashboards show', () => {
  const dashboards = Object.entries(buildDashboards());
  const panels = dashboards.flatMap(([file, d]) => ((d.panels ?? []) as Panel[]).filter((p) => p.type !== 'row').map((p) => ({ file, p, fc: p.fieldConfig as FieldConfig | undefined })));

  it('every unit is a Grafana unit id or a custom suffix/prefix', () => {
    const bad: string[] = [];
    for (const { file, p, fc } of panels) {
      const units = [fc?.defaults?.unit, ...(fc?.overrides ?? []).flatMap((o) => o.properties.filter((x) => x.id === 'unit').map((x) => x.value as string))];
      for (const u of units) if (u !== undefined && !isGrafanaUnit(u)) bad.push(`${file} "${p.title}": ${u}`);
    }
    expect(panels.length).toBeGreaterThan(30);
    expect(bad).toEqual([]);
    // The two that were wrong: vibration velocity is mm/s (Grafana's velocity units are m/s and
    // coarser), heat flow m³/h (flowcms is m³/s).
    const unitOf = (title: string) => panels.find((x) => x.p.title === title)?.fc?.defaults?.unit;
    expect(unitOf('Vibration (ISO 10816 zones)')).toBe('suffix: mm/s');
    expect(unitOf('Heating flow by region')).toBe('suffix: m³/h');
  });

  it('threshold steps start from the base colour and rise strictly', () => {
    const bad: string[] = [];
    for (const { file, p, fc } of panels) {
      const steps = fc?.defaults?.thresholds?.steps;
      if (!steps) continue;
      if (steps[0]?.value !== null) bad.push(`${file} "${p.title}": no base step`);
      const values = steps.slice(1).map((s) => s.value as number);
      for (let i = 1; i < values.length; i++) if (!(values[i] > values[i - 1])) bad.push(`${file} "${p.title}": steps ${JSON.stringify(values)}`);
    }
    expect(bad).toEqual([]);
    // A quality rate is bad when low: red at the bottom, green at the top.
    const quality = panels.find((x) => x.p.title === 'Quality rate (OEE quality)')?.fc?.defaults?.thresholds?.steps;
    expect(quality?.map((s) => s.color)).toEqual(['red', 'orange', 'green']);
  });

  it("annotations map result columns with the InfluxDB data source's fields (textColumn, tagsColumn, titleColumn)", () => {
    const annotations = dashboards.flatMap(([file, d]) => ((d.annotations?.list ?? []) as unknown as Annotation[]).filter((a) => a.datasource?.type === 'influxdb').map((a) => ({ file, a })));
    expect(annotations.length).toBeGreaterThan(0);
    for (const { file, a } of annotations) {
      // Prometheus's field names, which the InfluxDB data source ignores.
      expect(Object.keys(a), file).not.toContain('textFormat');
      expect(Object.keys(a), file).not.toContain('tagKeys');
      const t = a.target!;
      expect(t, file).toMatchObject({ rawQuery: true, fromAnnotations: true, resultFormat: 'table' });
      const columns = selectedColumns(t.query);
      for (const c of [t.textColumn, t.titleColumn, ...(t.tagsColumn ?? '').split(',')].filter(Boolean)) expect(columns, `${file} ${a.name}: column ${c}`).toContain(c);
      expect(t.textColumn, file).toBeTruthy();
    }
  });
});
