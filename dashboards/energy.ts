import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { influx, timeseries, thresholdsLowIsBad, UNITS } from './common.js';
import { meanByRegion, readings, sectorDashboard } from './sector.js';

/** Phase voltages, mean over the selected meters. */
export function voltage() {
  const q = readings('energy_meter').agg('mean', 'voltage_a', 'A').agg('mean', 'voltage_b', 'B').agg('mean', 'voltage_c', 'C').groupByTime().fill('none');
  return timeseries('Phase voltage', 'Mean phase voltage of the selected meters (V).', 'volt').withTarget(influx(q));
}

/** Grid frequency: lowest and highest seen per interval (statutory band 49.8-50.2 Hz). */
export function frequency() {
  const q = readings('energy_meter').agg('min', 'frequency', 'min').agg('max', 'frequency', 'max').groupByTime().fill('none');
  return timeseries('Grid frequency', 'Lowest and highest frequency reported per interval (Hz); the statutory band is 50 ± 0.2 Hz.', 'hertz').withTarget(influx(q));
}

/** Load per region: the sum of the meters' mean active power. */
export function load() {
  return timeseries('Load by region', 'Active power of the selected meters, summed per region (kW).', 'kwatt')
    .withTarget(influx(readings('energy_meter').agg('sum', 'active_power', 'kW').groupByTime().groupBy('region').fill('none')).alias('$tag_region'));
}

/** Power factor per region. */
export const powerFactor = () => meanByRegion('energy_meter', 'power_factor', 'Power factor by region', 'Mean power factor of the selected meters.', 'none').thresholds(thresholdsLowIsBad(0.9, 0.85));

/** District heating: supply and return temperature. */
export function heatTemperatures() {
  const q = readings('energy_heat').agg('mean', 'supply_temp', 'supply').agg('mean', 'return_temp', 'return').groupByTime().fill('none');
  return timeseries('Heating supply and return', 'District heating supply and return temperature (°C).', 'celsius').withTarget(influx(q));
}

export const heatFlow = () => meanByRegion('energy_heat', 'flow_rate', 'Heating flow by region', 'Mean flow of the selected heat meters (m³/h).', UNITS.m3PerHour);

export function energyDashboard() {
  return sectorDashboard('energy', 'Energy: grid and district heating', 'Voltage, frequency and load of the grid meters; district heating flow and temperatures.', ['energy_meter', 'energy_heat'])
    .withRow(new RowBuilder('Grid'))
    .withPanel(voltage())
    .withPanel(frequency())
    .withPanel(load())
    .withPanel(powerFactor())
    .withRow(new RowBuilder('District heating'))
    .withPanel(heatTemperatures())
    .withPanel(heatFlow());
}
