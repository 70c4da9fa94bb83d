import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { influx, table, thresholds, timeseries, UNITS } from './common.js';
import { readings, sectorDashboard } from './sector.js';

/** Processor load of each roadside unit. */
export function rsuCpu() {
  return timeseries('RSU processor load', 'CPU load of each roadside unit (%).', 'percent')
    .thresholds(thresholds(70, 90))
    .withTarget(influx(readings('v2x_rsu_status').agg('max', 'cpu').groupByTime().groupBy('device').fill('none')).alias('$tag_device'));
}

/** Cabinet temperature of each roadside unit. */
export function rsuTemperature() {
  return timeseries('RSU cabinet temperature', 'Cabinet temperature of each roadside unit (°C); the equipment is rated to 85 °C.', 'celsius')
    .thresholds(thresholds(60, 75))
    .withTarget(influx(readings('v2x_rsu_status').agg('max', 'temperature').groupByTime().groupBy('device').fill('none')).alias('$tag_device'));
}

/** Connected vehicles seen by the roadside units, per region. */
export function vehiclesConnected() {
  return timeseries('Vehicles connected', 'Vehicles each region’s roadside units serve (sum of the newest counts).', 'short')
    .withTarget(influx(readings('v2x_rsu_status').agg('mean', 'vehicles').groupByTime().groupBy('region').fill('none')).alias('$tag_region'));
}

/** Vehicle speeds from the basic safety messages: median and 95th percentile per region. */
export function vehicleSpeeds() {
  const q = readings('v2x_bsm').agg('median', 'speed', 'median').expr('percentile("speed", 95)', 'p95').groupByTime().groupBy('region').fill('none');
  return timeseries('Vehicle speeds', 'Speeds in the BSM stream (m/s): median and 95th percentile per region.', 'velocityms').withTarget(influx(q).alias('$tag_region $col'));
}

/** BSM messages per second per region: the load on the V2X stream. */
export function bsmRate() {
  return timeseries('BSM message rate', 'Basic safety messages per second per region.', UNITS.msgPerSec)
    .withTarget(influx(readings('v2x_bsm').expr('count("speed") / ($__interval_ms / 1000)', 'msg/s').groupByTime().groupBy('region').fill('0')).alias('$tag_region'));
}

/** The newest status of every roadside unit. */
export function rsuTable() {
  return table('Roadside units: newest status', 'Load, temperature and vehicles of each selected RSU.')
    .withTarget(influx(readings('v2x_rsu_status').agg('last', 'cpu').agg('last', 'temperature').agg('last', 'vehicles').groupBy('region', 'device')).format('table'));
}

export function v2xDashboard() {
  return sectorDashboard('v2x', 'Vehicle networking (V2X): roadside units and traffic', 'RSU health and the basic safety message stream (CSAE 53).', ['v2x_bsm', 'v2x_rsu_status'])
    .withRow(new RowBuilder('Roadside units'))
    .withPanel(rsuCpu())
    .withPanel(rsuTemperature())
    .withPanel(rsuTable())
    .withRow(new RowBuilder('Traffic'))
    .withPanel(vehiclesConnected())
    .withPanel(vehicleSpeeds())
    .withPanel(bsmRate());
}
