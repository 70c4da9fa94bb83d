import {
  AnnotationQueryBuilder,
  ConstantVariableBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as BarGauge } from '@grafana/grafana-foundation-sdk/bargauge';
import { LegendDisplayMode, LegendPlacement, ReduceDataOptionsBuilder, VizLegendOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import { PanelBuilder as Stat } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as Table } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeSeries } from '@grafana/grafana-foundation-sdk/timeseries';
import { InfluxQLQuery, Select } from './influxql.js';

/** The provisioned data source every panel uses (deploy/grafana/provisioning/datasources). */
export const DATASOURCE = { type: 'influxdb', uid: 'jl-influxdb' } as const;
export const DATASOURCE_NAME = 'InfluxDB';
/** Tag shared by every dashboard: the links bar lists them all. */
export const TAG = 'jilin-iot';

/** An InfluxQL target on the provisioned data source. */
export function influx(select: Select | string, refId = 'A'): InfluxQLQuery {
  return new InfluxQLQuery(select).refId(refId).datasource(DATASOURCE);
}

/** A dashboard with the shared defaults: tags, links to the others, shared crosshair, refresh. */
export function dashboard(uid: string, title: string, description: string, time: { from: string; to: string } = { from: 'now-6h', to: 'now' }): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags([TAG])
    .timezone('browser')
    .refresh('30s')
    .time(time)
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly()
    .link(new DashboardLinkBuilder('Digital Jilin IoT').type(DashboardLinkType.Dashboards).tags([TAG]).asDropdown(true).includeVars(true).keepTime(true));
}

/** A multi-value variable over a tag's values, with All matching everything (`.*`). */
function tagVariable(name: string, label: string, query: string): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc);
}

/** Division codes that have written statistics. */
export const regionVariable = () => tagVariable('region', 'Region', 'SHOW TAG VALUES FROM "pipeline_stats" WITH KEY = "region"');
/** Sectors that have written statistics. */
export const sectorVariable = () => tagVariable('sector', 'Sector', 'SHOW TAG VALUES FROM "pipeline_stats" WITH KEY = "sector"');
/** A sector dashboard's own sector, hidden. */
export const sectorConstant = (sector: string) => new ConstantVariableBuilder('sector').value(sector);
/** Devices of the measurements matching `measurements` in the selected regions. */
export const deviceVariable = (measurements: string) => tagVariable('device', 'Device', `SHOW TAG VALUES FROM /${measurements}/ WITH KEY = "device" WHERE "region" =~ /^$region$/`);

/** Incidents opened in a sector, as annotations: when, what, how grave. */
export function incidentAnnotations(sector?: string): AnnotationQueryBuilder {
  const q = Select.from('incidents').column('title', 'text').column('level').column('category').column('kind').whereEq('event', 'opened').whereVar('region');
  if (sector) q.whereEq('sector', sector);
  return new AnnotationQueryBuilder()
    .name('Security incidents')
    .datasource(DATASOURCE)
    .enable(true)
    .iconColor('red')
    // The InfluxDB data source maps result columns by its own field names (textColumn,
    // tagsColumn, titleColumn), not Prometheus's textFormat / tagKeys, which it ignores.
    .target(influx(q).annotationColumns({ text: 'text', title: 'kind', tags: ['level', 'category', 'kind'] }));
}

/**
 * Devices online and registered from `pipeline_stats` rows matching `stats`: the newest count per
 * resource, region and instance; the highest over instances (instances in one shared
 * subscription each see the fleet and each count the registry); summed over resources and regions.
 */
export function devicesOnlineQuery(stats: Select): Select {
  const newest = stats.agg('last', 'devices_online', 'online').agg('last', 'devices_registered', 'registered').groupByTime().groupBy('code', 'region', 'instance');
  const perRegion = Select.fromSubquery(newest).agg('max', 'online', 'online').agg('max', 'registered', 'registered').groupByTime().groupBy('code', 'region');
  return Select.fromSubquery(perRegion).agg('sum', 'online', 'online').agg('sum', 'registered', 'registered').groupByTime().fill('none');
}

/** A time-series panel on the provisioned data source. */
export function timeseries(title: string, description: string, unit: string): TimeSeries {
  return new TimeSeries()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .height(8)
    .span(12)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom));
}

/** A single-value panel showing the newest value. */
export function stat(title: string, description: string, unit: string): Stat {
  return new Stat().title(title).description(description).datasource(DATASOURCE).unit(unit).height(5).span(6).reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']));
}

/** A bar gauge of the newest value per series. */
export function bars(title: string, description: string, unit: string): BarGauge {
  return new BarGauge().title(title).description(description).datasource(DATASOURCE).unit(unit).height(8).span(12).reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']));
}

/** A table panel. */
export function table(title: string, description: string): Table {
  return new Table().title(title).description(description).datasource(DATASOURCE).height(9).span(24);
}

/** Green below `amber`, amber from it, red from `red` (higher is worse; amber < red). */
export function thresholds(amber: number, red: number): ThresholdsConfigBuilder {
  if (!(amber < red)) throw new Error(`thresholds: amber ${amber} must be below red ${red}`);
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
    { value: null, color: 'green' },
    { value: amber, color: 'orange' },
    { value: red, color: 'red' },
  ]);
}

/** Green above `amber`, amber below it, red below `red` (lower is worse; red < amber). */
export function thresholdsLowIsBad(amber: number, red: number): ThresholdsConfigBuilder {
  if (!(red < amber)) throw new Error(`thresholdsLowIsBad: red ${red} must be below amber ${amber}`);
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
    { value: null, color: 'red' },
    { value: red, color: 'orange' },
    { value: amber, color: 'green' },
  ]);
}

/** Green, then red from `red`: a count that should be 0. */
export function alarmFrom(red: number): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
    { value: null, color: 'green' },
    { value: red, color: 'red' },
  ]);
}

/** Units Grafana has no id for, as custom suffixes (a bare unknown id is not a unit to Grafana). */
export const UNITS = { msgPerSec: 'suffix: msg/s', mmPerSec: 'suffix: mm/s', m3PerHour: 'suffix: m³/h' } as const;
