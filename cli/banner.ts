import type { Pipeline } from '../app/pipeline.js';
import { packageVersion } from '../config/paths.js';

/**
 * What a person at a terminal needs after `jlpipe start`: where the console and the API are, which token file
 * signs them in, where the broker and InfluxDB are, and how to stop. Printed to stderr when
 * stdout is a terminal (logs stay JSON for machines otherwise).
 */
export function startBanner(p: Pipeline): string {
  const host = p.config.http.host === '0.0.0.0' || p.config.http.host === '::' ? '127.0.0.1' : p.config.http.host;
  const api = `http://${host}:${p.httpPort ?? p.config.http.port}`;
  const tokens = p.config.api?.tokens?.length ? 'the tokens of api.tokens in the config' : `the admin token in ${p.config.dataDir}/api-token`;
  return [
    '',
    `  Digital Jilin IoT pipeline ${packageVersion()} is running`,
    `  Console    ${api}/  (sign in with a token; the API is described at ${api}/docs)`,
    `  API        ${api}  (/healthz, /readyz, /metrics open; /incidents, /subscriptions, /stats, /capacity with a token)`,
    `  Token      ${tokens}:  curl -H "Authorization: Bearer $(cat ${p.config.dataDir}/api-token)" ${api}/incidents`,
    `  MQTT       ${p.config.mqtt.url ?? p.broker?.url ?? '-'}${p.broker ? ' (embedded broker)' : ''}`,
    `  InfluxDB   ${p.influx.url ?? '-'}`,
    '  Stop       Ctrl+C (pending batches are flushed first)',
    '',
  ].join('\n');
}
