import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { influx, table, timeseries } from './common.js';
import { meanByRegion, readings, sectorDashboard } from './sector.js';

export const soilMoisture = () => meanByRegion('agri_soil', 'moisture', 'Soil moisture by region', 'Volumetric soil water content (%), mean of the selected stations per region.', 'percent');
export const soilTemperature = () => meanByRegion('agri_soil', 'temperature', 'Soil temperature by region', 'Soil temperature (°C) per region.', 'celsius');
export const airTemperature = () => meanByRegion('agri_weather', 'air_temperature', 'Air temperature by region', 'Farm weather stations: air temperature (°C).', 'celsius');
export const humidity = () => meanByRegion('agri_weather', 'humidity', 'Relative humidity by region', 'Farm weather stations: relative humidity (%).', 'humidity');

/** Rain per region: the sum of what the stations report per interval. */
export function rainfall() {
  return timeseries('Rainfall by region', 'Rain reported by farm weather stations (mm per interval).', 'lengthmm')
    .withTarget(influx(readings('agri_weather').agg('sum', 'rainfall').groupByTime().groupBy('region').fill('0')).alias('$tag_region'));
}

/** The newest reading of every selected soil station. */
export function soilStations() {
  return table('Soil stations: newest readings', 'Moisture, temperature, EC and pH of each selected station.')
    .withTarget(influx(readings('agri_soil').agg('last', 'moisture').agg('last', 'temperature').agg('last', 'ec').agg('last', 'ph').groupBy('region', 'device')).format('table'));
}

export function agriDashboard() {
  return sectorDashboard('agri', 'Agriculture: soil and farm weather', 'Soil condition (墒情) and farm microclimate across the province.', ['agri_soil', 'agri_weather'])
    .withRow(new RowBuilder('Soil'))
    .withPanel(soilMoisture())
    .withPanel(soilTemperature())
    .withPanel(soilStations())
    .withRow(new RowBuilder('Weather'))
    .withPanel(airTemperature())
    .withPanel(humidity())
    .withPanel(rainfall());
}
