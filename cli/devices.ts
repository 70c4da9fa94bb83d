import { join } from 'node:path';
import { Command, Option } from 'commander';
import { loadPipelineConfig } from '../app/config.js';
import { loadCatalogue, parseDuration } from '../config/catalogue.js';
import { addDevices, removeDevice, rotateKey, type DeviceFiles } from '../provisioning/devices.js';
import { credentialsCsv, importDevices } from '../provisioning/devices-csv.js';
import { SERVICE_USERS } from '../provisioning/deployment.js';

/** After the broker's files changed: mosquitto reads them again on SIGHUP only. */
function reloadHint(o: { brokerDir?: string }): void {
  if (o.brokerDir) console.error(`broker files updated in ${o.brokerDir}: reload mosquitto (docker compose kill -s HUP mosquitto, or kill -HUP <pid>) for logins and ACL to take effect`);
  else console.error("no --broker-dir: only the registry changed; the broker's logins and ACL did not (a broker with per-device logins will not let a new device in)");
}

/** The registry of the config, and the broker's files when --broker-dir is given. */
function files(o: { config?: string; brokerDir?: string; pipelineUser: string; subscriberUser: string }): DeviceFiles {
  const config = loadPipelineConfig(o.config);
  return {
    registry: config.devices,
    catalogue: loadCatalogue(config.catalogue),
    broker: o.brokerDir ? { passwordFile: join(o.brokerDir, 'passwd'), aclFile: join(o.brokerDir, 'acl'), users: { pipeline: o.pipelineUser, subscriber: o.subscriberUser } } : undefined,
  };
}

const common = (c: Command) =>
  c
    .addOption(new Option('-c, --config <file>', 'pipeline config file: its registry and catalogue (default: config/pipeline.yaml)'))
    .option('--broker-dir <dir>', "mosquitto's directory with the password file `passwd` and the ACL `acl`, kept in step with the registry (reload mosquitto with SIGHUP after)")
    .option('--pipeline-user <name>', "the pipeline's broker user in the ACL", SERVICE_USERS.pipeline)
    .option('--subscriber-user <name>', "the alert subscribers' broker user in the ACL", SERVICE_USERS.subscriber);

type Common = { config?: string; brokerDir?: string; pipelineUser: string; subscriberUser: string };

/** `jlpipe devices add | import | remove | rotate-key`: the registry, the broker's logins and ACL, the keys. */
export function devicesCommand(run: (fn: () => Promise<void>) => Promise<void>): Command {
  const devices = new Command('devices').description("provision devices: registry entry, broker login and ACL, signing key (docs/DEVICES.md)");
  common(devices.command('add'))
    .description('register a device; prints its broker password and signing key once, as JSON (give them to the device, keep them nowhere else)')
    .requiredOption('--id <id>', 'device id (the broker username too)')
    .requiredOption('--sector <sector>', 'a sector of the catalogue')
    .requiredOption('--region <code>', 'division code, e.g. 220100')
    .requiredOption('--types <list>', 'message types it sends, comma-separated')
    .option('--keyed', 'the device signs its messages (a new 32-byte key, sigScheme v2)')
    .option('--critical', 'critical infrastructure')
    .action((o: Common & { id: string; sector: string; region: string; types: string; keyed?: boolean; critical?: boolean }) =>
      run(async () => {
        const [c] = addDevices(files(o), [{ id: o.id, sector: o.sector, region: o.region, types: o.types.split(',').map((t) => t.trim()), keyed: o.keyed, ...(o.critical ? { criticalInfrastructure: true } : {}) }]);
        console.log(JSON.stringify(c));
        reloadHint(o);
      }),
    );
  common(devices.command('import'))
    .description('register every device of a CSV file, or none; prints their broker passwords and keys once, as CSV (id,password,key)')
    .argument('<devices.csv>', 'header row id,sector,region,types[,keyed][,critical]; types separated by spaces or semicolons; keyed, critical: yes/no')
    .action((csv: string, o: Common) =>
      run(async () => {
        process.stdout.write(credentialsCsv(importDevices(files(o), csv)));
        reloadHint(o);
      }),
    );
  common(devices.command('remove'))
    .description('remove a device from the registry and the broker')
    .requiredOption('--id <id>', 'device id')
    .action((o: Common & { id: string }) =>
      run(async () => {
        removeDevice(files(o), o.id);
        reloadHint(o);
      }),
    );
  common(devices.command('rotate-key'))
    .description('give a keyed device a new signing key; the old one verifies until the grace period ends; prints the new key once, as JSON')
    .requiredOption('--id <id>', 'device id')
    .option('--grace <duration>', 'how long the old key still verifies (e.g. 24h, 7d)', '24h')
    .action((o: Common & { id: string; grace: string }) => run(async () => console.log(JSON.stringify(rotateKey(files(o), o.id, parseDuration(o.grace))))));
  return devices;
}
