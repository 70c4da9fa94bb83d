#!/usr/bin/env node
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Command, Option } from 'commander';
import { makeLogger } from '../app/logger.js';
import { Pipeline } from '../app/pipeline.js';
import type { RoleName } from '../app/roles/role.js';
import { ROLES, startRole } from '../app/roles/start.js';
import { Supervisor } from '../app/roles/supervisor.js';
import type { Catalogue } from '../config/catalogue.js';
import { MockCluster } from '../kafka/mock-cluster.js';
import { topicSpecs } from '../kafka/topics.js';
import { loadCatalogue } from '../config/catalogue.js';
import { loadRegistry, type Registry } from '../config/devices.js';
import { ENV_VARS, loadPipelineConfig, redact, unknownEnvVars } from '../app/config.js';
import { packageVersion } from '../config/paths.js';
import { startBanner } from './banner.js';
import { ConfigError } from '../core/errors.js';
import { makeFleet, registryYaml, type SimDevice } from '../ingest/simulator/fleet.js';
import { Simulator } from '../ingest/simulator/simulator.js';
import { LOG_KEY_ENV, logKeyFile, readCheckpoint, readLogKey, verifyLog } from '../alerts/incident-log.js';
import { incidentsOfLog } from '../evaluation/incidents-of-log.js';
import { scenarioTable, scoreScenarios } from '../evaluation/scenarios.js';
import { publishInOrder } from '../ingest/simulator/publish.js';
import { buildScenarioRun, catalogueCadence, type Truth } from '../ingest/simulator/scenarios.js';
import { inspectSpool, replaySpool } from './spool.js';
import { devicesCommand } from './devices.js';
import { deployCommand } from './deploy.js';
import { addUsage } from './help.js';
import type { BenchReport } from '../bench/run.js';

const program = new Command('jlpipe').description('Digital Jilin IoT monitoring pipeline').version(packageVersion(), '-V, --version', 'print the version').showHelpAfterError();
const configOption = new Option('-c, --config <file>', 'pipeline config file (default: config/pipeline.yaml)');

/** Devices of the registry as the simulator drives them. */
function fleetOf(registry: Registry): SimDevice[] {
  return [...registry.values()].map((d) => ({ id: d.id, kind: d.types[0], sector: d.sector, region: d.region, types: d.types, key: d.key?.toString('hex') }));
}

/**
 * Heap headroom of a running pipeline. On a machine with memory to spare V8 lets the old
 * generation grow to up to 4x what survived its last full collection before collecting again;
 * with the state of 100,000 devices that kept the process at 1.2 GB RSS, mostly garbage. Growing
 * by 20 % keeps it near what it holds (SPEC 11: 100,000 devices under 500 MB). V8 reads the flag
 * at every collection, so set here it holds however the process was started; a
 * --heap-growing-percent given to node wins.
 */
const HEAP_GROWING_PERCENT = 20;
function limitHeapGrowth(): void {
  if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/** Runs `fn`; a ConfigError is printed as "file:line: path: problem" with exit code 2. */
async function run(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`config error: ${e.message}`);
      process.exit(2);
    }
    // One line for the operator; the stack only when asked for (JL_DEBUG=1).
    console.error(`error: ${e instanceof Error ? e.message : String(e)}${process.env.JL_DEBUG && e instanceof Error && e.stack ? `\n${e.stack}` : ''}`);
    process.exit(1);
  }
}

program
  .command('start')
  .description('run the pipeline; exits 0 after flushing on SIGTERM/SIGINT')
  .addOption(configOption)
  .option('--simulate', 'also run the simulator (and a local influxd when no InfluxDB is configured)')
  .option('--rate <n>', 'simulator messages per second, round-robin (default: every device at its catalogue update cycle)')
  .addOption(new Option('--role <role>', 'run one role of the Kafka topology (SPEC 8) in this process').choices(ROLES))
  .option('--instance <id>', 'with --role: this process\'s stable id (MQTT session, Kafka client id, data dir); env JL_INSTANCE', process.env.JL_INSTANCE ?? '1')
  .option('--workers [n]', 'run the Kafka topology on this machine: a gateway, n workers (default: one per core) and an incident manager, as child processes')
  .action((o: { config?: string; simulate?: boolean; rate?: string; role?: RoleName; instance: string; workers?: string | boolean }) =>
    run(async () => {
      limitHeapGrowth();
      const config = loadPipelineConfig(o.config);
      const log = makeLogger(config.log.level, { svc: 'jlpipe' });
      let stopApp: () => Promise<void>;
      let sim: Simulator | undefined;
      const simulate = (url: string, registry: Registry, catalogue: Catalogue) => {
        const rate = o.rate === undefined ? undefined : Number(o.rate);
        sim = new Simulator({ url, fleet: fleetOf(registry), rate, dropout: 0.002, cadence: catalogueCadence(catalogue) }, log);
        sim.run().catch((e: Error) => log.error({ err: e.message }, 'simulator stopped'));
        log.info({ devices: registry.size, rate: rate ?? 'catalogue update cycles' }, 'simulator started');
      };
      if (o.rate !== undefined && !(Number(o.rate) > 0 && Number.isFinite(Number(o.rate)))) throw new ConfigError('command line', '--rate', `must be a positive number of messages per second, got "${o.rate}"`);
      if (o.role) {
        if (!/^[A-Za-z0-9_-]{1,40}$/.test(o.instance)) throw new ConfigError('command line', '--instance', `must be 1-40 letters, digits, _ or -, got "${o.instance}"`);
        const role = await startRole(o.role, o.instance, config, log);
        stopApp = () => role.stop();
      } else if (o.workers !== undefined) {
        const workers = o.workers === true ? undefined : Number(o.workers);
        if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1 && workers <= 64)) throw new ConfigError('command line', '--workers', `must be an integer from 1 to 64, got "${String(o.workers)}"`);
        const sup = await Supervisor.start(config, { workers, entry: process.argv[1], configFile: o.config, localInflux: !!o.simulate }, log);
        if (o.simulate) {
          const catalogue = loadCatalogue(config.catalogue);
          simulate(sup.mqttUrl, loadRegistry(config.devices, catalogue), catalogue);
        }
        stopApp = () => sup.stop();
      } else {
        const pipeline = await Pipeline.start(config, { localInflux: !!o.simulate, logger: log });
        if (o.simulate) simulate(config.mqtt.url ?? pipeline.broker!.url, pipeline.live.registry(), pipeline.live.catalogue());
        stopApp = () => pipeline.stop();
        if (process.stdout.isTTY) console.error(startBanner(pipeline));
      }
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping: flushing pending batches');
        sim?.stop();
        await stopApp();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
      // A child of `start --workers` stops when its supervisor is gone (even killed with -9):
      // the IPC channel of fork() closes then, and an orphan would hold its ports and group.
      if (process.send) process.on('disconnect', () => void stop('supervisor gone'));
    }),
  );

const kafka = program.command('kafka').description('the Kafka topology (SPEC 8)');
kafka
  .command('mock')
  .description('host a librdkafka mock cluster in the foreground (with the topology\'s topics) and print its bootstrap address; Ctrl-C stops it')
  .addOption(configOption)
  .option('--brokers <n>', 'mock brokers', '3')
  .action((o: { config?: string; brokers: string }) =>
    run(async () => {
      const config = loadPipelineConfig(o.config);
      const n = Number(o.brokers);
      if (!(Number.isInteger(n) && n >= 1 && n <= 16)) throw new ConfigError('command line', '--brokers', `must be an integer from 1 to 16, got "${o.brokers}"`);
      const mock = MockCluster.start(n);
      for (const t of topicSpecs(config.kafka)) mock.createTopic(t.topic, config.kafka.partitions, Math.min(n, config.kafka.replication));
      console.log(mock.bootstrap);
      console.error(`mock cluster: ${n} brokers, topics ${topicSpecs(config.kafka).map((t) => t.topic).join(', ')} with ${config.kafka.partitions} partitions. Use JL_KAFKA_BROKERS=${mock.bootstrap}`);
      // The brokers run on librdkafka's threads: this timer keeps the process up until a signal.
      const alive = setInterval(() => {}, 60_000);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      clearInterval(alive);
      mock.close();
      process.exit(0);
    }),
  );

program
  .command('simulate')
  .description('publish a simulated fleet (the devices of the registry) to an MQTT broker')
  .addOption(configOption)
  .option('--url <url>', 'broker URL (default: JL_MQTT_URL or the config)')
  .option('--rate <n>', 'messages per second', '500')
  .option('--count <n>', 'stop after this many messages')
  .option('--seed <n>', 'random seed', '1')
  .option('--write-registry <file>', 'instead of publishing, write a registry of a generated fleet')
  .option('--devices <n>', 'size of the generated fleet (with --write-registry)', '990')
  .option('--scenario <names>', 'publish a labelled scenario run instead (comma-separated names, or all): two hours of event time ending now, as fast as the broker takes it')
  .option('--truth <file>', 'with --scenario: where to write the ground truth (JSON)', 'truth.json')
  .action((o: { config?: string; url?: string; rate: string; count?: string; seed: string; writeRegistry?: string; devices: string; scenario?: string; truth: string }) =>
    run(async () => {
      if (o.writeRegistry) {
        const fleet = makeFleet(Number(o.devices));
        writeFileSync(o.writeRegistry, registryYaml(fleet, `# Device registry of the simulated fleet (${fleet.length} devices). Keys are demo keys.\n`));
        console.log(`wrote ${fleet.length} devices to ${o.writeRegistry}`);
        return;
      }
      const config = loadPipelineConfig(o.config);
      const url = o.url ?? config.mqtt.url ?? `mqtt://127.0.0.1:${config.mqtt.embeddedPort}`;
      const catalogue = loadCatalogue(config.catalogue);
      const registry = loadRegistry(config.devices, catalogue);
      const log = makeLogger(config.log.level);
      if (o.scenario) {
        const { messages, truth } = buildScenarioRun(fleetOf(registry), o.scenario.split(','), { seed: Number(o.seed), endMs: Date.now() - 60_000, cadence: catalogueCadence(catalogue) });
        writeFileSync(o.truth, JSON.stringify(truth, null, 2));
        log.info({ messages: messages.length, scenarios: truth.scenarios.length, truth: o.truth }, 'publishing scenario run');
        await publishInOrder(url, messages, { onProgress: (n) => log.info(`published ${n} of ${messages.length}`) });
        log.info({ published: messages.length }, 'scenario run published');
        return;
      }
      const sim = new Simulator({ url, fleet: fleetOf(registry), rate: Number(o.rate), count: o.count ? Number(o.count) : undefined, seed: Number(o.seed) }, log);
      process.on('SIGINT', () => sim.stop());
      process.on('SIGTERM', () => sim.stop());
      await sim.run();
      log.info({ sent: sim.sent }, 'simulation finished');
    }),
  );

program
  .command('evaluate')
  .description('score the incidents raised during a scenario run against its ground truth: precision, recall, delay per scenario')
  .addOption(configOption)
  .requiredOption('--truth <file>', 'ground truth written by simulate --scenario')
  .option('--incidents <file>', 'incident log (default: incidents/incidents.log in the data dir)')
  .option('--json', 'print JSON instead of a Markdown table')
  .option('--min <x>', 'exit 1 when any precision or recall is below this')
  .action((o: { config?: string; truth: string; incidents?: string; json?: boolean; min?: string }) =>
    run(async () => {
      const file = o.incidents ?? join(loadPipelineConfig(o.config).dataDir, 'incidents', 'incidents.log');
      const scores = scoreScenarios(JSON.parse(readFileSync(o.truth, 'utf8')) as Truth, incidentsOfLog(file));
      console.log(o.json ? JSON.stringify(scores, null, 2) : scenarioTable(scores));
      if (o.min !== undefined && scores.some((s) => s.precision < Number(o.min) || s.recall < Number(o.min))) process.exit(1);
    }),
  );

program
  .command('nab')
  .description('run the scoring core (the spike processor\'s, `nab` profile) over the NAB corpus point by point; write NAB-format results and, with combined_windows.json beside the data, the NAB scores per profile and per group')
  .addOption(configOption)
  .requiredOption('--data <dir>', 'NAB folder: <dir>/data/<group>/<file>.csv, and optionally <dir>/combined_windows.json')
  .option('--out <dir>', 'where to write results (same relative paths) and scores.json (required unless --score)')
  .option('--score <results>', "score another detector's NAB-format results instead (e.g. numenta/NAB's results/numenta): the scorer's agreement with NAB's own")
  .option('--logo', 'also leave one group out: for each group the tuned constants are chosen on the others; the held-out results are pooled and scored by NAB\'s rules, and (stricter) with the threshold also from the others (27 runs of the corpus, about 5 min)')
  .option('--vary <constant=v1,v2,...>', 'also score the corpus with one constant of the nab profile moved to each value, the rest kept (repeatable)', (v: string, all: string[] = []) => [...all, v])
  .action((o: { config?: string; data: string; out?: string; score?: string; logo?: boolean; vary?: string[] }) =>
    run(async () => {
      if (o.score) {
        const { scoreResults } = await import('../evaluation/nab/score-results.js');
        console.log(JSON.stringify(scoreResults(o.data, o.score), null, 2));
        return;
      }
      if (!o.out) throw new ConfigError('command line', '--out', 'required (where the results go), unless --score');
      const { nabParams, runNab } = await import('../evaluation/nab/run.js');
      const spike = loadPipelineConfig(o.config).detection.spike;
      const constants = Object.keys(nabParams(spike));
      const varied = o.vary?.map((v) => {
        const m = /^(\w+)=(.+)$/.exec(v);
        if (!m) throw new ConfigError('command line', '--vary', `"${v}" is not constant=v1,v2,...`);
        if (!constants.includes(m[1])) throw new ConfigError('command line', '--vary', `no constant ${m[1]}; known: ${constants.join(', ')}`);
        const values = m[2].split(',').map((x) => (x === 'true' ? true : x === 'false' ? false : Number(x)));
        if (values.some((x) => typeof x === 'number' && !Number.isFinite(x))) throw new ConfigError('command line', '--vary', `"${v}": values must be numbers, true or false`);
        return [m[1], values] as const;
      });
      const r = runNab(o.data, o.out, spike, { logo: o.logo, vary: varied && Object.fromEntries(varied), log: (m) => console.error(m) });
      console.log(JSON.stringify(r, null, 2));
    }),
  );

const incidents = program.command('incidents').description('the incident log');
incidents
  .command('verify')
  .description('check the hash chain and MACs of the incident log, and optionally that it reaches a checkpoint kept off the host; exit 1 naming the first deleted, reordered or altered record')
  .addOption(configOption)
  .option('--log <file>', 'incident log (default: incidents/incidents.log in the data dir)')
  .option('--key <file>', `the log key (default: ${LOG_KEY_ENV}, else the config's incidents.logKeyFile when the log is the config's)`)
  .option('--against <checkpoint>', 'a checkpoint {n, hash, at, mac} from InfluxDB (incident_log_checkpoints) or an alert subscriber: the log must reach it unchanged')
  .action((o: { config?: string; log?: string; key?: string; against?: string }) =>
    run(async () => {
      // The config's key belongs to the config's log: with --log alone, only --key or the env.
      const config = o.config || !o.log ? loadPipelineConfig(o.config) : undefined;
      const file = o.log ?? join(config!.dataDir, 'incidents', 'incidents.log');
      const keyFile = o.key ?? (config ? logKeyFile(config.file, config.incidents.logKeyFile) : undefined);
      if (o.key && !existsSync(o.key)) throw new ConfigError('command line', '--key', `${o.key} does not exist`);
      const key = readLogKey(keyFile, o.key ? {} : process.env);
      const against = o.against ? readCheckpoint(o.against) : undefined;
      const r = verifyLog(file, { key, against });
      if (!r.ok) {
        console.error(`TAMPERED: ${r.problem} (${file})`);
        process.exit(1);
      }
      const anchor = against ? `, reaches the checkpoint n=${against.n} of ${new Date(against.at).toISOString()}` : '';
      if (key) console.log(`ok: ${r.records} records, chain, MACs and head intact${anchor} (${file})`);
      else {
        console.log(`ok: ${r.records} records, chain and head intact${anchor} (${file}); NOT AUTHENTICATED: no log key`);
        console.error(`warning: no log key (--key, ${LOG_KEY_ENV}, or -c with incidents.logKeyFile): anyone able to write the data dir can rewrite a chain that passes this check${against ? "; the checkpoint's MAC was not checked either" : ''}`);
      }
    }),
  );

program.addCommand(devicesCommand(run));
program.addCommand(deployCommand(run));

program
  .command('validate-config')
  .description('check the pipeline config, its environment variables, catalogue and device registry; print a summary')
  .addOption(configOption)
  .action((o: { config?: string }) =>
    run(async () => {
      const config = loadPipelineConfig(o.config);
      const catalogue = loadCatalogue(config.catalogue);
      const registry = loadRegistry(config.devices, catalogue);
      // The environment is checked with the file (a bad value stopped loadPipelineConfig); a
      // JL_ name nothing reads is most likely a typo.
      const unknown = unknownEnvVars(process.env);
      for (const name of unknown) console.error(`warning: environment variable ${name} is not one jlpipe reads (a typo?); known: ${ENV_VARS.join(', ')}`);
      console.log(JSON.stringify({ ok: true, config: redact(config), environment: { unknown }, catalogue: { file: catalogue.file, version: catalogue.version, entries: catalogue.entries.map((e) => e.code) }, devices: registry.size }, null, 2));
    }),
  );

const dashboards = program.command('dashboards').description('Grafana dashboards as code');
dashboards
  .command('build')
  .description('write every dashboard JSON plus Grafana provisioning (InfluxQL data source, dashboard provider)')
  .option('--out <dir>', 'output folder', 'deploy/grafana')
  .action((o: { out: string }) =>
    run(async () => {
      const { writeDashboards } = await import('../dashboards/build.js');
      for (const f of writeDashboards(o.out)) console.log(`wrote ${f}`);
    }),
  );

const capacity = program.command('capacity').description('capacity planning from the statistics the pipeline writes to InfluxDB');
capacity
  .command('report')
  .description('forecast write rate, storage, compute and series per region and sector; print Markdown (or JSON) and write the forecast to InfluxDB for the capacity dashboard')
  .addOption(configOption)
  .option('--horizon <duration>', 'forecast horizon (m, h or d)', '365d')
  .option('--out <dir>', 'also write capacity.md, capacity.json and SVG charts into this folder')
  .option('--json', 'print JSON instead of Markdown')
  .option('--no-write', 'do not write the forecast to InfluxDB')
  .action((o: { config?: string; horizon: string; out?: string; json?: boolean; write: boolean }) =>
    run(async () => {
      const { parseDuration } = await import('../config/catalogue.js');
      const { runCapacityPlan } = await import('../capacity/run.js');
      const { capacityJson, capacityMarkdown, writeCapacityReport } = await import('../capacity/report.js');
      const { AutoWriter } = await import('../storage/influx/auto-writer.js');
      const config = loadPipelineConfig(o.config);
      let horizonMs: number;
      try {
        horizonMs = parseDuration(o.horizon);
      } catch {
        throw new ConfigError('command line', '--horizon', `"${o.horizon}" is not a duration such as 90d or 12h`);
      }
      const url = config.influx.url;
      if (!url) throw new ConfigError(config.file ?? '(defaults)', '/influx/url', 'not set (nor JL_INFLUX_URL): the planner reads pipeline_stats from InfluxDB');
      const writer = o.write ? new AutoWriter({ ...config.influx, url }, config.influx.api) : undefined;
      await writer?.init();
      try {
        const plan = await runCapacityPlan({ ...config.influx, url }, config.capacity, loadCatalogue(config.catalogue), horizonMs, writer);
        if (o.out) for (const f of writeCapacityReport(plan, o.out)) console.error(`wrote ${f}`);
        console.log(o.json ? JSON.stringify(capacityJson(plan), null, 2) : capacityMarkdown(plan));
      } finally {
        await writer?.close();
      }
    }),
  );

const spool = program.command('spool').description('the durable spool of the storage stage');
spool
  .command('inspect')
  .description('what the spool holds, per source')
  .addOption(configOption)
  .action((o: { config?: string }) => run(async () => console.log(JSON.stringify(await inspectSpool(loadPipelineConfig(o.config)), null, 2))));
spool
  .command('replay')
  .description('write the spool to InfluxDB now (with the pipeline stopped)')
  .addOption(configOption)
  .action((o: { config?: string }) => run(() => replaySpool(loadPipelineConfig(o.config))));

program
  .command('bench')
  .description('measure raw MQTT drain, raw InfluxDB ingest and the whole pipeline; write docs/BENCHMARKS.md')
  .option('--out <dir>', 'where to write BENCHMARKS.md and benchmarks.json', 'docs')
  .option('--messages <n>', 'messages per throughput run', '200000')
  .option('--latency-seconds <n>', 'duration of the latency run', '20')
  .option('--report-only', 'rewrite BENCHMARKS.md from the benchmarks.json of an earlier run')
  .option('--memory-only', 'run only (6), the pipeline process with 100,000 devices, into the benchmarks.json of an earlier run')
  .option('--signatures-only', 'run only (7), ingest CPU per message with signature v1 and v2, into the benchmarks.json of an earlier run')
  .action((o: { out: string; messages: string; latencySeconds: string; reportOnly?: boolean; memoryOnly?: boolean; signaturesOnly?: boolean }) =>
    run(async () => {
      const { runBenchmarks, runMemoryOnly, runSignaturesOnly, markdown } = await import('../bench/run.js');
      if (o.signaturesOnly) {
        runSignaturesOnly(o.out);
        return;
      }
      if (o.memoryOnly) {
        await runMemoryOnly(o.out);
        process.exit(0);
      }
      if (o.reportOnly) {
        // Written by this or an earlier version: markdown() prints figures added since as "-".
        writeFileSync(join(o.out, 'BENCHMARKS.md'), markdown(JSON.parse(readFileSync(join(o.out, 'benchmarks.json'), 'utf8')) as BenchReport));
        return;
      }
      await runBenchmarks({ outDir: o.out, messages: Number(o.messages), latencySeconds: Number(o.latencySeconds) });
      process.exit(0);
    }),
  );

addUsage(program);
await program.parseAsync();
