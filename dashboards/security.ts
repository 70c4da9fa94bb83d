import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { bars, dashboard, incidentAnnotations, influx, regionVariable, sectorVariable, stat, table, timeseries, alarmFrom } from './common.js';
import { Select } from './influxql.js';

/** Incident events of the selected sectors and regions. */
const incidents = () => Select.from('incidents').whereVar('sector').whereVar('region');

/** Incidents opened over time, per level. */
export function incidentTimeline() {
  return timeseries('Incidents opened', 'New incidents per interval, per level (I most severe).', 'short')
    .span(24)
    .withTarget(influx(incidents().whereEq('event', 'opened').agg('count', 'count', 'opened').groupByTime().groupBy('level').fill('0')).alias('level $tag_level'));
}

/** Open and acknowledged incidents per level over time. */
export function openOverTime() {
  return timeseries('Open incidents', 'Incidents open (not yet acknowledged) per level.', 'short')
    .withTarget(influx(Select.from('incidents_open').agg('last', 'open', 'open').groupByTime().groupBy('level').fill('previous')).alias('level $tag_level'));
}

/** Incidents per category (GB/T 20986-2023). */
export function byCategory() {
  return bars('Incidents by category', 'Incidents opened in the time range, per GB/T 20986-2023 category.', 'short')
    .withTarget(influx(incidents().whereEq('event', 'opened').agg('count', 'count', 'incidents').groupBy('category')).alias('$tag_category'));
}

/** Overdue reports now. */
export function overdue() {
  const perLevel = Select.from('incidents_open').agg('last', 'overdue', 'overdue').groupBy('level');
  return stat('Overdue reports', 'Incidents of level III or above past their report-by deadline.', 'short').thresholds(alarmFrom(1)).withTarget(influx(Select.fromSubquery(perLevel).agg('sum', 'overdue', 'overdue')));
}

/**
 * Every incident event, newest first; a Grafana transformation keeps the newest row per
 * incident id, so the table reads as the incidents' current state with their deadlines.
 */
export function incidentTable() {
  const q = incidents()
    .column('id')
    .column('level')
    .column('category')
    .column('kind')
    .column('sector')
    .column('region')
    .column('state')
    .column('title')
    .column('count')
    .column('devices')
    .column('report_by')
    .column('overdue')
    .column('reported')
    .newestFirst()
    .limit(1000);
  const first = { operation: 'aggregate', aggregations: ['first'] };
  return table('Incidents', 'Level, category, state and report-by deadline of each incident (newest event per incident).')
    .withTarget(influx(q).format('table'))
    .withTransformation({
      id: 'groupBy',
      options: { fields: { id: { operation: 'groupby' }, Time: first, level: first, category: first, kind: first, sector: first, region: first, state: first, title: first, count: first, devices: first, report_by: first, overdue: first, reported: first } },
    })
    .withTransformation({ id: 'convertFieldType', options: { conversions: [{ targetField: 'report_by (first)', destinationType: 'time' }] } });
}

export function securityDashboard() {
  return dashboard('jl-security', 'Security events', 'Graded incidents (levels I-IV, GB/T 20986-2023 categories), their state and reporting deadlines.', { from: 'now-24h', to: 'now' })
    .withVariable(sectorVariable())
    .withVariable(regionVariable())
    .annotation(incidentAnnotations())
    .withRow(new RowBuilder('Now'))
    .withPanel(overdue().span(6).height(8))
    .withPanel(byCategory().span(18))
    .withRow(new RowBuilder('Timeline'))
    .withPanel(incidentTimeline())
    .withPanel(openOverTime().span(24))
    .withPanel(incidentTable());
}
