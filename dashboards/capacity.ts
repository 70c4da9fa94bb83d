import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, influx, regionVariable, sectorVariable, table, timeseries } from './common.js';
import { Select } from './influxql.js';

/**
 * Forecast curves written by the planner (`jlpipe capacity report`, or the pipeline hourly).
 * Each plan overwrites the future points of the last one, but points that have fallen behind
 * now stay; showing only the last two planning intervals' worth keeps old plans off the
 * panels (the actual panels show the past).
 */
const forecast = (metric: string) => Select.from('capacity_forecast').whereEq('metric', metric).whereVar('region').notOlderThan('2h');

/** Actual points per second per region (pipeline_stats). */
export function actualWriteRate() {
  return timeseries('Write rate: actual', 'Points per second written per region.', 'wps')
    .withTarget(influx(Select.from('pipeline_stats').whereVar('region').whereVar('sector').perSecond('points', 'points/s').groupByTime().groupBy('region').fill('0')).alias('$tag_region'));
}

/** Forecast write rate per region against the region's limit. */
export function forecastWriteRate() {
  const q = forecast('write_rate').whereEq('sector', 'all').agg('mean', 'value', 'forecast').agg('mean', 'limit', 'limit').groupByTime().groupBy('region').fill('none');
  return timeseries('Write rate: forecast and limit', 'Holt-Winters forecast of points per second per region, and the limit (capacity × target utilisation).', 'wps').withTarget(influx(q).alias('$tag_region $col'));
}

/** Forecast write rate per sector. */
export function forecastBySector() {
  const q = forecast('write_rate').whereVar('sector').whereNot('sector', 'all').agg('mean', 'value', 'forecast').groupByTime().groupBy('region', 'sector').fill('none');
  return timeseries('Write rate forecast by sector', 'Forecast points per second per region and sector.', 'wps').withTarget(influx(q).alias('$tag_region $tag_sector'));
}

/** Storage forecast per region against the region's disk. */
export function forecastStorage() {
  const q = forecast('storage').agg('mean', 'value', 'forecast').agg('mean', 'limit', 'limit').groupByTime().groupBy('region').fill('none');
  return timeseries('Storage: forecast and limit', 'Forecast InfluxDB disk use per region (field values × bytes per value), and the limit.', 'bytes').withTarget(influx(q).alias('$tag_region $col'));
}

/** Series per resource against its catalogue cardinality budget. */
export function seriesVsBudget() {
  const q = Select.from('capacity_exhaustion').whereEq('metric', 'series').agg('last', 'current', 'series now').agg('last', 'at_horizon', 'at horizon').agg('last', 'limit', 'budget').agg('last', 'days_left', 'days to budget').groupBy('code');
  return table('Series against cardinality budget', 'Series per catalogue resource now and at the horizon, against its cardinalityBudget.').span(12).withTarget(influx(q).format('table'));
}

/** When each region runs out, per metric. */
export function timeToExhaustion() {
  const q = Select.from('capacity_exhaustion').whereVar('region').whereNot('metric', 'series').agg('last', 'current', 'now').agg('last', 'peak', 'peak').agg('last', 'limit', 'limit').agg('last', 'days_left', 'days left').agg('last', 'exhausted_at', 'runs out').groupBy('region', 'metric');
  return table('Time to exhaustion', 'Per region and metric: now, forecast peak, limit, and when the forecast crosses the limit (empty: not within the horizon).').span(12).withTarget(influx(q).format('table'));
}

/** What to provision per region. */
export function recommendations() {
  const q = Select.from('capacity_recommendation').whereVar('region').agg('last', 'instances', 'instances').agg('last', 'partitions', 'partitions').agg('last', 'storage_bytes', 'storage').agg('last', 'cpu_cores', 'cores').agg('last', 'actions', 'actions').groupBy('region');
  return table('Recommendations', 'Pipeline instances, topic partitions, storage and cores that carry the forecast peak, and the actions to take.').withTarget(influx(q).format('table'));
}

export function capacityDashboard() {
  return dashboard('jl-capacity', 'Capacity planning', 'Actual load, Holt-Winters forecasts and when each region runs out of write rate, storage and compute.', { from: 'now-7d', to: 'now+90d' })
    .withVariable(sectorVariable())
    .withVariable(regionVariable())
    .withRow(new RowBuilder('Write rate'))
    .withPanel(actualWriteRate())
    .withPanel(forecastWriteRate())
    .withPanel(forecastBySector())
    .withPanel(forecastStorage())
    .withRow(new RowBuilder('When capacity runs out'))
    .withPanel(timeToExhaustion())
    .withPanel(seriesVsBudget())
    .withPanel(recommendations());
}
