/** Config of the spike processor (pipeline.yaml `detection.spike`): the scoring core per field. */
import type { FromSchema } from 'json-schema-to-ts';

/** The scoring core's constants (processors/anomaly/score/core.ts), each with its default. */
const coreProperties = {
  alpha: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.2, description: 'Holt smoothing of the level.' },
  beta: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.05, description: 'Holt smoothing of the trend: follows slow cycles without lag.' },
  noiseMemory: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.006, description: 'Smallest weight of a new |residual| in the noise scale (1 / memory in points).' },
  clipZ: { type: 'number', exclusiveMinimum: 0, default: 1.5, description: 'Residuals are clipped to this many noise units before they move the baseline, so a fault is not absorbed at once.' },
  fullZ: { type: 'number', exclusiveMinimum: 0, default: 6, description: 'Residual in noise units whose raw score is 1.' },
  shiftK: { type: 'number', minimum: 0, default: 2, description: 'CUSUM slack (noise units): names a persistent excursion a level shift.' },
  shiftH: { type: 'number', exclusiveMinimum: 0, default: 14, description: 'CUSUM threshold (noise units).' },
  shiftRule: { type: 'boolean', default: true, description: 'A confirmed level shift alerts by itself, like the range rule.' },
  warmup: { type: 'integer', minimum: 2, default: 30, description: 'Readings before residuals are clipped and the CUSUM runs.' },
  fitFrom: { type: 'integer', minimum: 1, default: 20, description: 'Readings before the likelihood fits its Gaussian.' },
  reportFrom: { type: 'integer', minimum: 1, default: 40, description: 'Readings before a series can alert at all.' },
  memory: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.0005, description: 'Smallest weight of a new average in the likelihood (1 / memory in points).' },
  dailyMemoryDays: { type: 'number', exclusiveMinimum: 0, default: 7, description: 'Memory of the time-of-day baseline, in days.' },
  explainZ: { type: 'number', minimum: 0, default: 2, description: "A value within this many of its hour's noise units is usual: the level view's surprise (a daily cycle's edge) is explained away. 0: never." },
  dailyFromDays: { type: 'integer', minimum: 0, default: 1, description: 'Day boundaries a series must have crossed before its hours are judged.' },
  averageOf: { type: 'integer', minimum: 1, maximum: 32, default: 1, description: 'Raw scores averaged before the likelihood: 1 judges each reading alone (a single spike counts), more judges runs of readings.' },
  dailyFloor: { type: 'number', minimum: 0, default: 0.25, description: "Floor of an hour's deviation, as a share of the series' deviation from its hours." },
  range: { type: 'boolean', default: true, description: 'The new-range rule: a value beyond the range seen by more than rangeTolerance of it.' },
  rangeTolerance: { type: 'number', minimum: 0, default: 1, description: 'Share of the range seen that a value must exceed it by (0.05 on NAB; Gaussian noise keeps stretching a range by a few percent).' },
  sensitivity: { type: 'number', exclusiveMinimum: 0, maximum: 30, default: 1.5, description: 'Alert at this strength, -log10(likelihood tail) / 10: 0.5 is a tail of 1e-5, 1.5 of 1e-15. Higher is fewer alerts; a pipeline watching 100,000 series needs a far tail.' },
  minZ: { type: 'number', minimum: 0, default: 5, description: "A level or daily view alerts only with a residual of at least this many noise units (the range and shift rules are not bound by it): the likelihood's Gaussian fit understates how often ordinary noise reaches 4. 0: the likelihood alone decides." },
  silence: { type: 'integer', minimum: 0, default: 30, description: 'Readings of a series without a new alert after one: one event, one alert.' },
  eventZ: { type: 'number', minimum: 0, default: 3, description: 'While a residual stays this many noise units off, the event (and its silence) goes on: a long anomaly alerts once. 0: silence is a fixed number of readings.' },
  eventMax: { type: 'integer', minimum: 0, default: 1000, description: 'Readings an event may extend its silence, after its alert.' },
  utcOffsetMinutes: { type: 'integer', minimum: -720, maximum: 840, default: 480, description: "The device's local time, minutes east of UTC (Beijing, all of Jilin: 480)." },
} as const;

/** The same constants without defaults: an override sets only what it names. */
type WithoutDefaults<T> = { [K in keyof T]: Omit<T[K], 'default'> };
const overrideProperties = Object.fromEntries(Object.entries(coreProperties).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).filter(([p]) => p !== 'default'))])) as unknown as WithoutDefaults<typeof coreProperties>;

export const spikeSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    ...coreProperties,
    fields: {
      type: 'object',
      description: 'Fields scored, per catalogue measurement. Counters, positions and bursty fields (rain) are left out.',
      additionalProperties: { type: 'array', items: { type: 'string' } },
      default: {
        agri_soil: ['moisture', 'temperature', 'ec', 'ph'],
        agri_weather: ['air_temperature', 'humidity', 'co2'],
        v2x_rsu_status: ['cpu', 'temperature'],
        energy_meter: ['voltage_a', 'voltage_b', 'voltage_c', 'frequency', 'power_factor'],
        energy_heat: ['flow_rate', 'supply_temp', 'return_temp', 'pressure'],
        iiot_machine: ['vibration_rms', 'spindle_speed', 'temperature', 'pressure'],
      },
    },
    daily: {
      type: 'object',
      description: 'Fields that also keep a time-of-day baseline (24 hours x 3 floats), per measurement: those with a daily cycle.',
      additionalProperties: { type: 'array', items: { type: 'string' } },
      default: {
        agri_soil: ['moisture', 'temperature'],
        agri_weather: ['air_temperature', 'humidity'],
        energy_heat: ['supply_temp', 'return_temp', 'flow_rate'],
      },
    },
    overrides: {
      type: 'object',
      description: 'Constants per catalogue measurement ("energy_meter") or field ("energy_meter.frequency"), over the ones above; the field wins, and an override sets only what it names. `nab` is the profile `jlpipe nab` uses. Setting overrides in pipeline.yaml replaces this whole map: keep the entries you still want.',
      additionalProperties: { type: 'object', additionalProperties: false, properties: overrideProperties },
      default: {
        // Slow series with a daily cycle (10 min samples): the level view follows the curve.
        agri_soil: { alpha: 0.3, beta: 0.1, clipZ: 3 },
        agri_weather: { alpha: 0.3, beta: 0.1, clipZ: 3 },
        energy_heat: { alpha: 0.3, beta: 0.1, clipZ: 3 },
        // NAB series: single metrics of unknown cadence, scored from a longer history (docs/DETECTION.md).
        nab: { minZ: 0, beta: 0.01, clipZ: 3, fitFrom: 150, reportFrom: 300, averageOf: 5, sensitivity: 0.55, rangeTolerance: 0.05, shiftRule: false, explainZ: 0, eventZ: 0, utcOffsetMinutes: 0 },
      },
    },
  },
} as const;

export type SpikeConfig = FromSchema<typeof spikeSchema>;
