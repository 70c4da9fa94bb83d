import { RowBuilder, type DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, devicesOnlineQuery, deviceVariable, incidentAnnotations, influx, regionVariable, sectorConstant, timeseries } from './common.js';
import { Select } from './influxql.js';

/** A measurement's points in the selected regions and devices. */
export const readings = (measurement: string) => Select.from(measurement).whereVar('region').whereVar('device');

/** Mean of one field per region over time. */
export function meanByRegion(measurement: string, field: string, title: string, description: string, unit: string) {
  return timeseries(title, description, unit).withTarget(influx(readings(measurement).agg('mean', field).groupByTime().groupBy('region').fill('none')).alias('$tag_region'));
}

/** Devices online against registered, for one sector. */
export function sectorDevicesOnline(sector: string) {
  return timeseries('Devices online vs registered', `Devices of the ${sector} sector that sent within their expected cycle.`, 'short')
    .span(24)
    .withTarget(influx(devicesOnlineQuery(Select.from('pipeline_stats').whereEq('sector', sector).whereVar('region'))));
}

/**
 * The frame every sector dashboard shares: its sector (hidden constant), region and device
 * variables, incidents of the sector as annotations, and devices online at the top.
 */
export function sectorDashboard(sector: string, title: string, description: string, measurements: string[]): DashboardBuilder {
  return dashboard(`jl-sector-${sector}`, title, description)
    .withVariable(sectorConstant(sector))
    .withVariable(regionVariable())
    .withVariable(deviceVariable(`^(${measurements.join('|')})$`))
    .annotation(incidentAnnotations(sector))
    .withRow(new RowBuilder('Fleet'))
    .withPanel(sectorDevicesOnline(sector));
}
