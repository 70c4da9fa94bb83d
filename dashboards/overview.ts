import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { bars, dashboard, devicesOnlineQuery, incidentAnnotations, influx, regionVariable, sectorVariable, stat, timeseries, alarmFrom, UNITS } from './common.js';
import { Select } from './influxql.js';

/** Statistics of the selected sectors and regions. */
const stats = () => Select.from('pipeline_stats').whereVar('sector').whereVar('region');

/** Messages per second into the pipeline, one line per sector. */
export function ingestBySector() {
  return timeseries('Ingest by sector', 'Messages per second accepted from the field, per sector (pipeline_stats).', UNITS.msgPerSec)
    .withTarget(influx(stats().perSecond('messages', 'msg/s').groupByTime().groupBy('sector').fill('0')).alias('$tag_sector'));
}

/** Messages per second, one line per region. */
export function ingestByRegion() {
  return timeseries('Ingest by region', 'Messages per second accepted, per division code.', UNITS.msgPerSec)
    .withTarget(influx(stats().perSecond('messages', 'msg/s').groupByTime().groupBy('region').fill('0')).alias('$tag_region'));
}

/** Devices online (sent within `capacity.onlineCycles` update cycles) against devices registered. */
export function devicesOnline() {
  return timeseries('Devices online vs registered', 'Devices that sent within their expected cycle, against the registry.', 'short').withTarget(influx(devicesOnlineQuery(stats())));
}

/** Dead-lettered messages per reason. */
export function deadLettersByReason() {
  return timeseries('Dead letters by reason', 'Messages refused and kept in the dead-letter store, per reason code (pipeline_rejects).', 'short')
    .withTarget(influx(Select.from('pipeline_rejects').agg('sum', 'count', 'dead letters').whereVar('region').groupByTime().groupBy('reason').fill('0')).alias('$tag_reason'));
}

/** Open incidents per level now. */
export function openIncidentsByLevel() {
  return bars('Open incidents by level', 'Open (not yet acknowledged) incidents per level, I (特别重大) to IV (一般).', 'short')
    .withTarget(influx(Select.from('incidents_open').agg('last', 'open', 'open').groupBy('level')).alias('level $tag_level'));
}

/** Incidents past their report-by deadline. */
export function overdueReports() {
  const perLevel = Select.from('incidents_open').agg('last', 'overdue', 'overdue').groupBy('level');
  return stat('Overdue reports', 'Incidents of level III or above not reported to the authority by their deadline (1 h for critical infrastructure, 4 h otherwise).', 'short')
    .thresholds(alarmFrom(1))
    .withTarget(influx(Select.fromSubquery(perLevel).agg('sum', 'overdue', 'overdue')));
}

/**
 * Messages taken in over the selected time range. `received` is each instance's count since it
 * started: its spread (newest minus oldest) within the range, summed over instances, not the
 * newest lifetime total. (An instance restarted within the range counts from before its reset.)
 */
export function messagesReceived() {
  const perInstance = Select.from('pipeline_health').agg('spread', 'received', 'received').groupBy('instance');
  return stat('Messages received', 'Messages taken in over the selected time (stored or dead-lettered), all instances.', 'short')
    .withTarget(influx(Select.fromSubquery(perInstance).agg('sum', 'received', 'received')));
}

export function overviewDashboard() {
  return dashboard('jl-overview', 'Digital Jilin IoT: provincial overview', 'What the province is sending, what is refused and what is open: the operations centre wall.')
    .withVariable(sectorVariable())
    .withVariable(regionVariable())
    .annotation(incidentAnnotations())
    .withRow(new RowBuilder('Now'))
    .withPanel(openIncidentsByLevel().span(8).height(5))
    .withPanel(overdueReports().span(8))
    .withPanel(messagesReceived().span(8))
    .withRow(new RowBuilder('Ingest'))
    .withPanel(ingestBySector())
    .withPanel(ingestByRegion())
    .withPanel(devicesOnline())
    .withPanel(deadLettersByReason());
}
