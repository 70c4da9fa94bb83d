import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VariableType, type Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { packageRoot } from '../../config/paths.js';
import { buildDashboards, dashboardFiles } from '../../dashboards/build.js';
import { DATASOURCE } from '../../dashboards/common.js';
import type { InfluxQLDataquery } from '../../dashboards/influxql.js';
import { tempDir } from '../helpers/services.js';

const deployed = join(packageRoot(), 'deploy', 'grafana');
const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');

// Done-when 2 of the dashboards issue: unique uids, every panel on the provisioned data source,
// and the generated files in the repo equal a fresh build.
describe('dashboards as code', () => {
  const dashboards = Object.entries(buildDashboards());
  const datasource = (parse(readFileSync(join(deployed, 'provisioning', 'datasources', 'influxdb.yaml'), 'utf8')) as { datasources: { uid: string; type: string; jsonData: { version: string } }[] }).datasources;

  it('covers the overview, four sectors, security, pipeline health and capacity', () => {
    expect(dashboards.map(([, d]) => d.uid).sort()).toEqual(['jl-capacity', 'jl-overview', 'jl-pipeline-health', 'jl-sector-agri', 'jl-sector-energy', 'jl-sector-iiot', 'jl-sector-v2x', 'jl-security']);
  });

  it('has unique dashboard uids and unique panel ids within each dashboard', () => {
    const uids = dashboards.map(([, d]) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const [file, d] of dashboards) {
      const ids = (d.panels ?? []).map((p) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
    }
  });

  it('points every panel, target, annotation and variable at the one provisioned InfluxQL data source', () => {
    expect(datasource).toEqual([expect.objectContaining({ uid: DATASOURCE.uid, type: DATASOURCE.type, jsonData: expect.objectContaining({ version: 'InfluxQL' }) })]);
    for (const [file, d] of dashboards) {
      for (const p of (d.panels ?? []) as Panel[]) {
        if (p.type === 'row') continue;
        expect(p.datasource, `${file} panel "${p.title}"`).toEqual(DATASOURCE);
        expect(p.targets?.length, `${file} panel "${p.title}" has no query`).toBeGreaterThan(0);
        for (const t of (p.targets ?? []) as InfluxQLDataquery[]) expect(t.datasource, `${file} panel "${p.title}" target ${t.refId}`).toEqual(DATASOURCE);
        expect(p.description, `${file} panel "${p.title}" says what it shows`).toBeTruthy();
      }
      for (const a of d.annotations?.list ?? []) expect(a.datasource, `${file} annotation ${a.name}`).toEqual(DATASOURCE);
      for (const v of d.templating?.list ?? []) if (v.type === VariableType.Query) expect(v.datasource, `${file} variable ${v.name}`).toEqual(DATASOURCE);
    }
  });

  it('has region, sector and device variables where they apply', () => {
    const names = (uid: string) => (dashboards.find(([, d]) => d.uid === uid)![1].templating?.list ?? []).map((v) => v.name);
    for (const s of ['agri', 'v2x', 'energy', 'iiot']) expect(names(`jl-sector-${s}`)).toEqual(['sector', 'region', 'device']);
    expect(names('jl-overview')).toEqual(['sector', 'region']);
    expect(names('jl-capacity')).toEqual(['sector', 'region']);
  });

  it('the files in deploy/grafana equal a fresh build (rebuild with `jlpipe dashboards build`)', () => {
    const fresh = dashboardFiles();
    for (const [rel, content] of Object.entries(fresh)) expect(readFileSync(join(deployed, rel), 'utf8'), `${rel} is stale: run jlpipe dashboards build`).toBe(content);
    expect(readdirSync(join(deployed, 'dashboards')).sort()).toEqual(Object.keys(fresh).filter((f) => f.startsWith('dashboards/')).map((f) => f.slice('dashboards/'.length)).sort());
  });

  it('jlpipe dashboards build --out writes the same files', async () => {
    const out = tempDir();
    await promisify(execFile)(process.execPath, [cli, 'dashboards', 'build', '--out', out], { timeout: 60_000 });
    for (const [rel, content] of Object.entries(dashboardFiles())) expect(readFileSync(join(out, rel), 'utf8'), rel).toBe(content);
  });
});
