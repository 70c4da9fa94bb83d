import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { InfluxTarget } from '../storage/influx/writer.js';
import { packageRoot } from '../core/paths.js';
import type { IncidentsConfig } from '../alerts/incidents.js';
import type { DeliveryConfig } from '../alerts/dispatcher.js';
import type { DetectionConfig } from '../processors/anomaly/config.js';
import type { CapacityConfig } from '../capacity/config.js';
import type { ApiToken } from '../server/auth.js';
import { makeAjv } from './ajv.js';
import { pipelineSchema } from './schemas/pipeline.schema.js';
import { readYamlFile, validateYaml } from './yaml-file.js';

export interface PipelineConfig {
  /** The file the config came from, or undefined when only defaults and env were used. */
  file?: string;
  catalogue: string;
  devices: string;
  dataDir: string;
  mqtt: {
    url: string | null;
    embeddedPort: number;
    clientId: string;
    shareGroup: string | null;
    protocolVersion: 4 | 5;
    receiveMaximum: number;
    topic: string;
    username?: string;
    password?: string;
    reconnectMinMs: number;
    reconnectMaxMs: number;
  };
  /** Where to write (see InfluxTarget) plus how: API, batching and retries. */
  influx: Omit<InfluxTarget, 'url'> & {
    url: string | null;
    api: 'auto' | 'v1' | 'v2';
    batchSize: number;
    flushMs: number;
    maxInFlight: number;
    retries: number;
    retryMinMs: number;
    retryMaxMs: number;
  };
  spool: { maxBytes: number; alarmRatio: number; segmentBytes: number; replayBatch: number; probeMs: number };
  deadLetter: { payloadLimit: number; publish: boolean };
  limits: { maxPayloadBytes: number; futureToleranceMs: number };
  http: { port: number; host: string };
  pseudonymKey?: string;
  log: { level: string; progressEverySec: number };
  detection: DetectionConfig;
  capacity: CapacityConfig;
  incidents: IncidentsConfig;
  alerts: DeliveryConfig;
  api: { tokens: ApiToken[] };
}

const validatePipeline = makeAjv({ useDefaults: true }).compile(pipelineSchema);

/** Environment variables that override the file (the interface). */
function applyEnv(c: PipelineConfig, env: NodeJS.ProcessEnv): void {
  const s = (name: string) => (env[name] !== undefined && env[name] !== '' ? env[name] : undefined);
  c.mqtt.url = s('JL_MQTT_URL') ?? c.mqtt.url;
  c.influx.url = s('JL_INFLUX_URL') ?? c.influx.url;
  c.influx.database = s('JL_INFLUX_DB') ?? c.influx.database;
  c.influx.org = s('JL_INFLUX_ORG') ?? c.influx.org;
  c.influx.bucket = s('JL_INFLUX_BUCKET') ?? c.influx.bucket;
  c.influx.token = s('JL_INFLUX_TOKEN') ?? c.influx.token;
  c.devices = s('JL_DEVICES') ?? c.devices;
  c.catalogue = s('JL_CATALOGUE') ?? c.catalogue;
  c.dataDir = s('JL_DATA_DIR') ?? c.dataDir;
  c.pseudonymKey = s('JL_PSEUDONYM_KEY') ?? c.pseudonymKey;
  c.log.level = s('JL_LOG_LEVEL') ?? c.log.level;
  c.http.host = s('JL_HTTP_HOST') ?? c.http.host;
  const port = s('JL_HTTP_PORT');
  if (port !== undefined) {
    if (!/^\d+$/.test(port) || Number(port) > 65535) throw new ConfigError('environment', 'JL_HTTP_PORT', `must be a port number, got "${port}"`);
    c.http.port = Number(port);
  }
  if (c.pseudonymKey !== undefined && !/^([0-9a-fA-F]{2}){16,}$/.test(c.pseudonymKey)) {
    throw new ConfigError('environment', 'JL_PSEUDONYM_KEY', 'must be at least 16 bytes of hex');
  }
}

/** The default config file: config/pipeline.yaml of the project. */
export function defaultConfigFile(): string {
  return join(packageRoot(), 'config', 'pipeline.yaml');
}

/**
 * Loads the pipeline config: the file (validated, defaults filled), then the environment.
 * Relative paths in the file are relative to the file; paths from the environment to the cwd.
 */
export function loadPipelineConfig(file: string | undefined = defaultConfigFile(), env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  let config: PipelineConfig;
  let base: string;
  if (file && existsSync(file)) {
    const yaml = readYamlFile(resolve(file));
    config = validateYaml<PipelineConfig>(yaml, validatePipeline, yaml.value ?? {});
    config.file = yaml.file;
    base = dirname(yaml.file);
  } else if (file && file !== defaultConfigFile()) {
    throw new ConfigError(file, '', 'config file does not exist');
  } else {
    config = {} as PipelineConfig;
    validatePipeline(config);
    base = join(packageRoot(), 'config');
  }
  for (const k of ['catalogue', 'devices', 'dataDir'] as const) config[k] = resolve(base, config[k]);
  applyEnv(config, env);
  for (const k of ['catalogue', 'devices', 'dataDir'] as const) config[k] = resolve(config[k]);
  return config;
}

/** The config with secrets masked, for logs and `validate-config`. */
export function redact(c: PipelineConfig): PipelineConfig {
  const mask = (v: string | undefined) => (v ? '***' : v);
  return {
    ...c,
    mqtt: { ...c.mqtt, password: mask(c.mqtt.password) },
    influx: { ...c.influx, token: mask(c.influx.token)!, password: mask(c.influx.password)! },
    pseudonymKey: mask(c.pseudonymKey),
  };
}
