import type { Command } from 'commander';
import { ENV_VARS } from '../app/config.js';

/** What a command's help ends with: examples, and the environment variables it reads. */
interface Usage {
  examples: string[];
  env: string[];
}

/** Every setting the pipeline config takes from the environment (commands that load the config read them all). */
const CONFIG = `${ENV_VARS.join(', ')}\n  (each also as NAME_FILE: a file holding the value, e.g. JL_INFLUX_TOKEN_FILE)`;
const DEBUG = 'JL_DEBUG=1: an error prints its stack too';

/** The examples and environment of every command, by its path ("spool inspect"). */
const USAGE: Record<string, Usage> = {
  start: {
    examples: [
      'jlpipe start --simulate                      embedded broker, local influxd, simulated fleet (npm start)',
      'JL_MQTT_URL=mqtt://broker:1883 JL_INFLUX_URL=http://influx:8086 jlpipe start',
      'jlpipe start --role worker --instance 2      one role of the Kafka topology',
    ],
    env: [CONFIG, 'JL_INCIDENT_LOG_KEY (the incident log key), JL_INSTANCE (as --instance)', 'JL_LOG_JSON=1: JSON logs on a terminal too'],
  },
  'kafka mock': { examples: ['jlpipe kafka mock --brokers 3    then JL_KAFKA_BROKERS=<printed address> jlpipe start --workers 2'], env: [CONFIG] },
  simulate: {
    examples: ['jlpipe simulate --url mqtt://127.0.0.1:1883 --rate 200', 'jlpipe simulate --scenario all --truth /tmp/truth.json', 'jlpipe simulate --write-registry /tmp/devices.yaml --devices 990'],
    env: [CONFIG],
  },
  evaluate: { examples: ['jlpipe evaluate --truth /tmp/truth.json --min 0.95'], env: [CONFIG] },
  nab: {
    examples: ['jlpipe nab --data ~/NAB --out /tmp/nab-results --logo', 'jlpipe nab --data ~/NAB --score ~/NAB/results/numenta', 'jlpipe nab --data ~/NAB --out /tmp/nab-results --vary averageOf=3,5,7 --vary silence=20,30,45'],
    env: [CONFIG],
  },
  'incidents verify': {
    examples: ['jlpipe incidents verify -c /etc/jlpipe/pipeline.yaml', 'jlpipe incidents verify --log data/incidents/incidents.log --key /etc/jlpipe/incident-log.key --against checkpoint.json'],
    env: [CONFIG, 'JL_INCIDENT_LOG_KEY (the log key, unless --key)'],
  },
  'validate-config': { examples: ['JL_INFLUX_URL=http://influx:8086 jlpipe validate-config -c /etc/jlpipe/pipeline.yaml'], env: [CONFIG, 'any other JL_ variable is named as a likely typo'] },
  'dashboards build': { examples: ['jlpipe dashboards build --out deploy/grafana'], env: ['none'] },
  'capacity report': { examples: ['jlpipe capacity report --horizon 365d --out /tmp/capacity', 'jlpipe capacity report --horizon 90d --json --no-write'], env: [CONFIG] },
  'spool inspect': { examples: ['jlpipe spool inspect -c /etc/jlpipe/pipeline.yaml'], env: [CONFIG] },
  'spool replay': { examples: ['jlpipe spool replay -c /etc/jlpipe/pipeline.yaml    (with the pipeline stopped)'], env: [CONFIG] },
  bench: { examples: ['jlpipe bench --out docs', 'jlpipe bench --memory-only'], env: ['JL_BENCH_* (sizes of the runs; see docs/BENCHMARKS.md)'] },
  'devices add': { examples: ['jlpipe devices add --broker-dir deploy/mosquitto --id meter-220100-0042 --sector energy --region 220100 --types meter --keyed'], env: [CONFIG] },
  'devices import': { examples: ['jlpipe devices import --broker-dir deploy/mosquitto meters.csv > meters-credentials.csv'], env: [CONFIG] },
  'devices remove': { examples: ['jlpipe devices remove --broker-dir deploy/mosquitto --id meter-220100-0042'], env: [CONFIG] },
  'devices rotate-key': { examples: ['jlpipe devices rotate-key --id meter-220100-0042 --grace 7d'], env: [CONFIG] },
  'deploy init': { examples: ['jlpipe deploy init --dir deploy    then docker compose up -d'], env: [CONFIG] },
};

const leaves = (cmd: Command, path: string[] = []): [string, Command][] =>
  cmd.commands.length ? cmd.commands.flatMap((c) => leaves(c, [...path, c.name()])) : [[path.join(' '), cmd]];

/**
 * Ends every command's help with its examples and environment variables. A command without an
 * entry in USAGE is a programming error caught at start (and by the CLI test), not a help page
 * that silently lacks them.
 */
export function addUsage(program: Command): void {
  for (const [path, cmd] of leaves(program)) {
    const u = USAGE[path];
    if (!u) throw new Error(`cli/help.ts has no examples for "jlpipe ${path}"`);
    cmd.addHelpText('after', `\nExample${u.examples.length > 1 ? 's' : ''}:\n${u.examples.map((e) => `  ${e}`).join('\n')}\n\nEnvironment:\n${[...u.env, DEBUG].map((e) => `  ${e}`).join('\n')}`);
  }
}
