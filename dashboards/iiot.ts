import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { influx, table, thresholds, timeseries, thresholdsLowIsBad, UNITS } from './common.js';
import { readings, sectorDashboard } from './sector.js';

/** Vibration per machine with the ISO 10816-3 zones (2.8 / 7.1 mm/s for medium machines). */
export function vibration() {
  return timeseries('Vibration (ISO 10816 zones)', 'RMS vibration velocity of each machine (mm/s): green zone A/B, amber zone C above 2.8, red zone D above 7.1.', UNITS.mmPerSec)
    .thresholds(thresholds(2.8, 7.1))
    .withTarget(influx(readings('iiot_machine').agg('max', 'vibration_rms').groupByTime().groupBy('device').fill('none')).alias('$tag_device'));
}

/** Output: good parts per interval per region (counters, so the spread within the interval). */
export function output() {
  return timeseries('Output', 'Good parts made per interval, per region (from the machines’ good_count counters).', 'short')
    .withTarget(influx(readings('iiot_machine').agg('spread', 'good_count', 'good parts').groupByTime().groupBy('region').fill('0')).alias('$tag_region'));
}

/** Quality rate, the OEE quality factor: good / (good + rejected) per interval. */
export function qualityRate() {
  const q = readings('iiot_machine').expr('spread("good_count") / (spread("good_count") + spread("reject_count"))', 'quality').groupByTime().groupBy('region').fill('none');
  return timeseries('Quality rate (OEE quality)', 'Good parts over all parts made per interval: the quality factor of OEE.', 'percentunit').thresholds(thresholdsLowIsBad(0.95, 0.9)).withTarget(influx(q).alias('$tag_region'));
}

/** Spindle speed: a machine at 0 rpm is stopped (OEE availability). */
export function spindleSpeed() {
  return timeseries('Spindle speed', 'Spindle speed of each machine (rpm); 0 means stopped (OEE availability).', 'rotrpm')
    .withTarget(influx(readings('iiot_machine').agg('mean', 'spindle_speed').groupByTime().groupBy('device').fill('none')).alias('$tag_device'));
}

/** The newest state of every selected machine. */
export function machines() {
  return table('Machines: newest readings', 'Vibration, temperature, pressure and counters of each selected machine.')
    .withTarget(influx(readings('iiot_machine').agg('last', 'vibration_rms').agg('last', 'temperature').agg('last', 'pressure').agg('last', 'good_count').agg('last', 'reject_count').groupBy('region', 'device')).format('table'));
}

export function iiotDashboard() {
  return sectorDashboard('iiot', 'Industrial internet: machines', 'Machine condition (vibration zones) and OEE components.', ['iiot_machine'])
    .withRow(new RowBuilder('Condition'))
    .withPanel(vibration())
    .withPanel(spindleSpeed())
    .withPanel(machines())
    .withRow(new RowBuilder('Production'))
    .withPanel(output())
    .withPanel(qualityRate());
}
