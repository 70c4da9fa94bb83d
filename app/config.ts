import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { FromSchema } from 'json-schema-to-ts';
import { packageRoot } from '../config/paths.js';
import { makeAjv } from '../config/ajv.js';
import { pipelineSchema } from './config-schema.js';
import { readYamlFile, validateYaml } from '../config/yaml-file.js';
import { envValue } from '../config/env.js';

/** The pipeline config as pipelineSchema describes it, defaults filled. */
export type PipelineConfig = FromSchema<typeof pipelineSchema> & {
  /** The file the config came from, or undefined when only defaults and env were used. */
  file?: string;
};

const LOG_LEVELS: readonly string[] = pipelineSchema.properties.log.properties.level.enum;
const isLogLevel = (v: string): v is PipelineConfig['log']['level'] => LOG_LEVELS.includes(v);

const validatePipeline = makeAjv({ useDefaults: true }).compile(pipelineSchema);

/** The environment variables the config reads (each also as NAME_FILE). */
export const ENV_VARS = [
  'JL_MQTT_URL', 'JL_MQTT_USERNAME', 'JL_MQTT_PASSWORD', 'JL_MQTT_PROTOCOL', 'JL_MQTT_SHARE_GROUP',
  'JL_INFLUX_URL', 'JL_INFLUX_DB', 'JL_INFLUX_ORG', 'JL_INFLUX_BUCKET', 'JL_INFLUX_TOKEN',
  'JL_DEVICES', 'JL_CATALOGUE', 'JL_DATA_DIR', 'JL_PSEUDONYM_KEY', 'JL_LOG_LEVEL', 'JL_HTTP_HOST', 'JL_HTTP_PORT',
  'JL_KAFKA_BROKERS', 'JL_KAFKA_PARTITIONS', 'JL_KAFKA_REPLICATION',
] as const;
/** Other JL_ variables the program reads (roles, logging, tests and benchmarks). */
const OTHER_ENV = ['JL_INCIDENT_LOG_KEY', 'JL_INSTANCE', 'JL_LOG_JSON', 'JL_DEBUG'];
const OTHER_PREFIXES = ['JL_BENCH_', 'JL_TEST_', 'JL_SCENARIO_'];

/** JL_ variables set in `env` that nothing reads: a typo (JL_INFLUX_TOKN) would otherwise be silently ignored. */
export function unknownEnvVars(env: NodeJS.ProcessEnv): string[] {
  const known = new Set<string>([...ENV_VARS, ...OTHER_ENV]);
  return Object.keys(env)
    .filter((k) => k.startsWith('JL_'))
    .filter((k) => !known.has(k) && !known.has(k.replace(/_FILE$/, '')) && !OTHER_PREFIXES.some((p) => k.startsWith(p)))
    .sort();
}

/** Environment variables that override the file (the interface); each NAME may be given as NAME_FILE, a file holding the value. */
function applyEnv(c: PipelineConfig, env: NodeJS.ProcessEnv): void {
  const s = (name: string) => envValue(env, name);
  c.mqtt.url = s('JL_MQTT_URL') ?? c.mqtt.url;
  c.influx.url = s('JL_INFLUX_URL') ?? c.influx.url;
  c.influx.database = s('JL_INFLUX_DB') ?? c.influx.database;
  c.influx.org = s('JL_INFLUX_ORG') ?? c.influx.org;
  c.influx.bucket = s('JL_INFLUX_BUCKET') ?? c.influx.bucket;
  c.influx.token = s('JL_INFLUX_TOKEN') ?? c.influx.token;
  c.mqtt.username = s('JL_MQTT_USERNAME') ?? c.mqtt.username;
  c.mqtt.password = s('JL_MQTT_PASSWORD') ?? c.mqtt.password;
  c.devices = s('JL_DEVICES') ?? c.devices;
  c.catalogue = s('JL_CATALOGUE') ?? c.catalogue;
  c.dataDir = s('JL_DATA_DIR') ?? c.dataDir;
  c.pseudonymKey = s('JL_PSEUDONYM_KEY') ?? c.pseudonymKey;
  c.kafka.brokers = s('JL_KAFKA_BROKERS') ?? c.kafka.brokers;
  const protocol = s('JL_MQTT_PROTOCOL');
  if (protocol !== undefined) {
    if (protocol !== '4' && protocol !== '5') throw new ConfigError('environment', 'JL_MQTT_PROTOCOL', `must be 4 (MQTT 3.1.1) or 5, got "${protocol}"`);
    c.mqtt.protocolVersion = protocol === '4' ? 4 : 5;
  }
  // "none": a plain subscription (shareGroup ""), for a broker without shared subscriptions (the
  // embedded aedes); the gateway role otherwise defaults to the group jl-gateways.
  const group = s('JL_MQTT_SHARE_GROUP');
  if (group !== undefined) {
    if (/[/#+]/.test(group)) throw new ConfigError('environment', 'JL_MQTT_SHARE_GROUP', `must be a name without "/", "#" or "+", or "none", got "${group}"`);
    c.mqtt.shareGroup = group === 'none' ? '' : group;
  }
  for (const [name, key] of [['JL_KAFKA_PARTITIONS', 'partitions'], ['JL_KAFKA_REPLICATION', 'replication']] as const) {
    const v = s(name);
    if (v === undefined) continue;
    if (!/^\d{1,4}$/.test(v) || Number(v) < 1) throw new ConfigError('environment', name, `must be a positive integer, got "${v}"`);
    c.kafka[key] = Number(v);
  }
  const level = s('JL_LOG_LEVEL');
  if (level !== undefined) {
    if (!isLogLevel(level)) throw new ConfigError('environment', 'JL_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
    c.log.level = level;
  }
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
