import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import mqtt from 'mqtt';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { loadRegistry } from '../../config/devices.js';
import { packageRoot } from '../../config/paths.js';
import { deploymentFiles } from '../../provisioning/deployment.js';
import { LocalMosquitto } from '../../services/mosquitto.js';
import { tempDir, uniqueName } from '../helpers/services.js';

const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
const jlpipe = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });

interface ComposeService {
  environment?: Record<string, string>;
  secrets?: string[];
  volumes?: string[];
}

// Issue 13, done-when 2: the compose deployment with a login per device. `jlpipe deploy init`
// makes the secret files compose reads (no secret is an environment value or in git), the
// registry (mounted, not in the image) and the broker's files; `jlpipe devices import | rotate-key
// | remove` keep registry, logins and ACL in step, checked against the real mosquitto.
describe('the compose deployment: secrets from files, devices provisioned from a CSV', () => {
  let dir: string;
  let broker: LocalMosquitto;
  let files: ReturnType<typeof deploymentFiles>;
  let config: string;
  const secret = (name: string) => readFileSync(join(files.secrets, name), 'utf8').trim();
  const connect = (username: string, password: string) => mqtt.connectAsync(broker.url, { clientId: uniqueName(username), username, password, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
  const catalogueFile = loadPipelineConfig(defaultConfigFile(), {}).catalogue;

  beforeAll(async () => {
    dir = tempDir();
    files = deploymentFiles(join(dir, 'deploy'));
    const r = jlpipe('deploy', 'init', '--dir', join(dir, 'deploy'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    config = join(dir, 'deploy', 'pipeline.yaml');
    writeFileSync(config, `catalogue: ${catalogueFile}\ndevices: secrets/registry/devices.yaml\ndataDir: ${join(dir, 'data')}\n`);
    broker = await LocalMosquitto.start(join(dir, 'mosquitto'), 0, undefined, { passwordFile: files.passwordFile, aclFile: files.aclFile });
  });
  afterAll(() => broker?.stop());

  it('docker-compose.yml reads every secret from a file deploy init made; none is an environment value', () => {
    const compose = parse(readFileSync(join(packageRoot(), 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService>; secrets: Record<string, { file: string }> };
    expect(readFileSync(join(packageRoot(), 'docker-compose.yml'), 'utf8')).not.toMatch(/change-me/);
    for (const [name, s] of Object.entries(compose.secrets)) {
      expect(s.file, name).toBe(`./deploy/secrets/${name}`);
      expect(secret(name), name).toMatch(/^[0-9a-f]{32,64}$/);
      expect(statSync(join(files.secrets, name)).mode & 0o777).toBe(0o644);
    }
    expect(statSync(files.secrets).mode & 0o777).toBe(0o700);
    const problems: string[] = [];
    for (const [svc, s] of Object.entries(compose.services)) {
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        if (/(PASSWORD|TOKEN|KEY)$/.test(k)) problems.push(`${svc}: ${k} is a plain value`);
        if (/_FILE$/.test(k) && String(v).startsWith('/run/secrets/') && !(s.secrets ?? []).includes(String(v).slice('/run/secrets/'.length))) problems.push(`${svc}: ${k} names a secret it does not mount`);
        if (/^mqtts?:\/\/[^/]*@/.test(String(v))) problems.push(`${svc}: ${k} has a password in its URL`);
      }
      const devices = s.environment?.JL_DEVICES;
      if (devices !== undefined) {
        expect(devices, svc).toBe('/run/jl-registry/devices.yaml');
        if (!(s.volumes ?? []).includes('./deploy/secrets/registry:/run/jl-registry:ro')) problems.push(`${svc}: JL_DEVICES without the registry mount`);
      }
    }
    expect(problems).toEqual([]);
    // Every role of the pipeline image reads the registry from the mount: the image has none.
    expect(Object.entries(compose.services).filter(([, s]) => s.environment?.JL_INFLUX_URL && !s.environment?.JL_DEVICES && !s.environment?.GF_SECURITY_ADMIN_PASSWORD__FILE).map(([n]) => n)).toEqual([]);
    expect(readFileSync(join(packageRoot(), '.dockerignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['config/devices.yaml', 'deploy/secrets']));
    expect(compose.services.mosquitto.volumes).toContain('./deploy/mosquitto:/mosquitto/config:ro');
    const conf = readFileSync(join(packageRoot(), 'deploy', 'mosquitto', 'mosquitto.conf'), 'utf8');
    expect(conf).toMatch(/^password_file \/mosquitto\/config\/passwd$/m);
    expect(conf).toMatch(/^acl_file \/mosquitto\/config\/acl$/m);
    expect(conf).toMatch(/^allow_anonymous false$/m);
    // The config the operations guide gives `jlpipe devices` names that registry and a catalogue that exists.
    const deployConfig = loadPipelineConfig(join(packageRoot(), 'deploy', 'pipeline.yaml'), {});
    expect(deployConfig.devices).toBe(deploymentFiles(join(packageRoot(), 'deploy')).registry);
    expect(loadCatalogue(deployConfig.catalogue).sectors.size).toBeGreaterThan(0);
  });

  it('deploy init run again keeps every secret', () => {
    const before = secret('influx-token');
    const r = jlpipe('deploy', 'init', '--dir', join(dir, 'deploy'));
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/^created/m);
    expect(secret('influx-token')).toBe(before);
  });

  it("the pipeline's and the subscribers' logins work with the generated passwords; an anonymous one does not", async () => {
    const p = await connect('jlpipe', secret('mqtt-pipeline-password'));
    await p.endAsync(true);
    const s = await connect('jlsubscriber', secret('mqtt-subscriber-password'));
    await s.endAsync(true);
    await expect(connect('jlpipe', 'change-me-pipeline')).rejects.toThrow(/Not authorized|Bad User Name or Password|134|135/i);
    await expect(mqtt.connectAsync(broker.url, { reconnectPeriod: 0, protocolVersion: 5, connectTimeout: 5000 })).rejects.toThrow(/Not authorized|135/i);
  });

  it('devices import: every device of the CSV registered with its login, the ACL following; credentials printed once, on stdout only', async () => {
    const csv = join(dir, 'meters.csv');
    writeFileSync(csv, 'id,sector,region,types,keyed,critical\nmeter-csv-0001,energy,220100,meter,yes,yes\n# a comment line\nsoil-csv-0001,agri,220200,"soil",no,\nwx-csv-0001,agri,220200,"weather; soil",,\n');
    const registryMode = statSync(files.registry).mode & 0o777;
    const r = jlpipe('devices', 'import', '-c', config, '--broker-dir', join(dir, 'deploy', 'mosquitto'), csv);
    expect(r.status, r.stderr).toBe(0);
    const creds = parseCsv<{ id: string; password: string; key: string }>(r.stdout, { columns: true });
    expect(creds.map((c) => c.id)).toEqual(['meter-csv-0001', 'soil-csv-0001', 'wx-csv-0001']);
    expect(creds[0].key).toMatch(/^[0-9a-f]{64}$/);
    expect(creds[1].key).toBe('');
    for (const c of creds) {
      expect(c.password).toMatch(/^[0-9a-f]{32}$/);
      expect(r.stderr).not.toContain(c.password);
    }
    expect(r.stderr).not.toContain(creds[0].key);
    expect(r.stderr).toMatch(/reload mosquitto/);
    // The registry keeps the mode deploy init gave it (the container's user reads it).
    expect(statSync(files.registry).mode & 0o777).toBe(registryMode);
    const registry = loadRegistry(files.registry, loadCatalogue(catalogueFile));
    expect(registry.get('meter-csv-0001')).toMatchObject({ sector: 'energy', region: '220100', sigScheme: 'v2', criticalInfrastructure: true });
    expect(registry.get('wx-csv-0001')?.types).toEqual(['weather', 'soil']);
    broker.reload();
    await new Promise((res) => setTimeout(res, 300));
    const pipeline = await connect('jlpipe', secret('mqtt-pipeline-password'));
    const seen: string[] = [];
    pipeline.on('message', (t) => seen.push(t));
    await pipeline.subscribeAsync('jl/#', { qos: 1 });
    const meter = await connect('meter-csv-0001', creds[0].password);
    await meter.publishAsync('jl/energy/220100/meter-csv-0001/meter', '{}', { qos: 1 });
    await expect(meter.publishAsync('jl/agri/220200/soil-csv-0001/soil', '{}', { qos: 1 })).rejects.toThrow(/Not authorized|135/i);
    await meter.endAsync(true);
    await new Promise((res) => setTimeout(res, 300));
    await pipeline.endAsync(true);
    expect(seen).toEqual(['jl/energy/220100/meter-csv-0001/meter']);
  });

  it('a bad CSV registers nothing and names the file, line and column', () => {
    const before = readFileSync(files.registry, 'utf8');
    const bad = (name: string, text: string) => {
      const f = join(dir, name);
      writeFileSync(f, text);
      const r = jlpipe('devices', 'import', '-c', config, '--broker-dir', join(dir, 'deploy', 'mosquitto'), f);
      expect(r.status, name).not.toBe(0);
      expect(r.stdout, name).toBe('');
      return r.stderr;
    };
    expect(bad('region.csv', 'id,sector,region,types\nsoil-csv-0100,agri,220100,soil\nsoil-csv-0101,agri,229999,soil\n')).toMatch(/region\.csv:3: column region: region 229999 is not a division/);
    expect(bad('dup.csv', 'id,sector,region,types\nsoil-csv-0102,agri,220100,soil\nsoil-csv-0102,agri,220100,soil\n')).toMatch(/dup\.csv:3: column id: duplicate device id "soil-csv-0102"/);
    expect(bad('keyed.csv', 'id,sector,region,types,keyed\nsoil-csv-0103,agri,220100,soil,maybe\n')).toMatch(/keyed\.csv:2: column keyed: must be yes or no, got "maybe"/);
    expect(bad('header.csv', 'id,sector,region,type\nsoil-csv-0104,agri,220100,soil\n')).toMatch(/header\.csv:1: header: unknown column "type"/);
    expect(bad('short.csv', 'id,sector,region,types\nsoil-csv-0105,agri,220100\n')).toMatch(/short\.csv:2: row: .*columns length is 4, got 3/);
    expect(bad('again.csv', 'id,sector,region,types\nsoil-csv-0001,agri,220200,soil\n')).toMatch(/already registered/);
    expect(readFileSync(files.registry, 'utf8')).toBe(before);
  });

  it('devices rotate-key and remove through the CLI', async () => {
    const before = loadRegistry(files.registry, loadCatalogue(catalogueFile)).get('meter-csv-0001')!;
    const r = jlpipe('devices', 'rotate-key', '-c', config, '--id', 'meter-csv-0001', '--grace', '7d');
    expect(r.status, r.stderr).toBe(0);
    const { key } = JSON.parse(r.stdout) as { key: string };
    const after = loadRegistry(files.registry, loadCatalogue(catalogueFile)).get('meter-csv-0001')!;
    expect(after.key?.toString('hex')).toBe(key);
    expect(after.previousKey?.toString('hex')).toBe(before.key?.toString('hex'));
    expect(Math.abs(after.previousKeyUntil! - (Date.now() + 7 * 86_400_000))).toBeLessThan(60_000);
    expect(jlpipe('devices', 'rotate-key', '-c', config, '--id', 'soil-csv-0001').stderr).toMatch(/has no key to rotate/);

    expect(readFileSync(files.passwordFile, 'utf8')).toMatch(/^soil-csv-0001:\$7\$/m);
    const rm = jlpipe('devices', 'remove', '-c', config, '--broker-dir', join(dir, 'deploy', 'mosquitto'), '--id', 'soil-csv-0001');
    expect(rm.status, rm.stderr).toBe(0);
    expect(loadRegistry(files.registry, loadCatalogue(catalogueFile)).has('soil-csv-0001')).toBe(false);
    expect(readFileSync(files.passwordFile, 'utf8')).not.toMatch(/^soil-csv-0001:/m);
    expect(readFileSync(files.aclFile, 'utf8')).not.toContain('soil-csv-0001');
    expect(jlpipe('devices', 'remove', '-c', config, '--id', 'soil-csv-0001').stderr).toMatch(/is not registered/);
  });
});

// The review of the change above found these; each failed before its fix.
describe('jlpipe devices: what must not happen to the broker files', () => {
  const catalogue = loadCatalogue(loadPipelineConfig(defaultConfigFile(), {}).catalogue);
  const setup = () => {
    const dir = tempDir();
    const r = jlpipe('deploy', 'init', '--dir', join(dir, 'deploy'));
    expect(r.status, r.stderr).toBe(0);
    const config = join(dir, 'deploy', 'pipeline.yaml');
    writeFileSync(config, `catalogue: ${loadPipelineConfig(defaultConfigFile(), {}).catalogue}\ndevices: secrets/registry/devices.yaml\n`);
    return { dir, config, files: deploymentFiles(join(dir, 'deploy')), broker: ['--broker-dir', join(dir, 'deploy', 'mosquitto')] };
  };
  const add = (config: string, broker: string[], id: string, env: string[] = []) =>
    spawnSync('sh', ['-c', `${env.join('; ')}${env.length ? '; ' : ''}exec "$@"`, 'sh', process.execPath, cli, 'devices', 'add', '-c', config, ...broker, '--id', id, '--sector', 'agri', '--region', '220100', '--types', 'soil'], { encoding: 'utf8', timeout: 30_000 });

  it("a device may not take a service's login, nor a name with ':'", () => {
    const { dir, config, files, broker } = setup();
    const passwd = readFileSync(files.passwordFile, 'utf8');
    expect(add(config, broker, 'jlpipe').stderr).toMatch(/"jlpipe" is the broker login of a service/);
    expect(add(config, broker, 'jlsubscriber').stderr).toMatch(/"jlsubscriber" is the broker login of a service/);
    expect(add(config, broker, 'soil:1').stderr).toMatch(/contains ":"/);
    expect(readFileSync(files.passwordFile, 'utf8')).toBe(passwd);
    const csv = join(dir, 'svc.csv');
    writeFileSync(csv, 'id,sector,region,types\nsoil-ok-1,agri,220100,soil\njlpipe,agri,220100,soil\n');
    expect(jlpipe('devices', 'import', '-c', config, ...broker, csv).stderr).toMatch(/svc\.csv:3: column id: "jlpipe" is the broker login of a service/);
    expect(loadRegistry(files.registry, catalogue).size).toBe(0);
  });

  it('a strict umask does not make the files unreadable to the broker and the pipeline', () => {
    const { config, files, broker } = setup();
    const modes = () => [files.registry, files.passwordFile, files.aclFile].map((f) => statSync(f).mode & 0o777);
    const before = modes();
    const r = add(config, broker, 'soil-umask-1', ['umask 077']);
    expect(r.status, r.stderr).toBe(0);
    expect(modes()).toEqual(before);
    expect(before).toEqual([0o644, 0o644, 0o644]);
  });

  it('a failure part-way changes no file; a held lock or a registry that is not a list is refused', () => {
    const { dir, config, files, broker } = setup();
    add(config, broker, 'soil-first-1');
    const snapshot = () => [files.registry, files.passwordFile, files.aclFile].map((f) => readFileSync(f, 'utf8'));
    const before = snapshot();
    // The password file cannot be read (a directory in its place): the registry, staged first,
    // must not be put in place, and no temporary file may stay behind.
    const saved = readFileSync(files.passwordFile, 'utf8');
    rmSync(files.passwordFile);
    mkdirSync(files.passwordFile);
    const failed = add(config, broker, 'soil-half-1');
    expect(failed.status).not.toBe(0);
    expect(readFileSync(files.registry, 'utf8')).toBe(before[0]);
    expect(readdirSync(join(files.registry, '..')).filter((f) => f.endsWith('.next'))).toEqual([]);
    rmSync(files.passwordFile, { recursive: true });
    writeFileSync(files.passwordFile, saved, { mode: 0o644 });
    // A lock held by another command.
    writeFileSync(`${files.registry}.lock`, '1\n');
    expect(add(config, broker, 'soil-locked-1').stderr).toMatch(/another jlpipe devices command is changing it \(lock file .*devices\.yaml\.lock/);
    rmSync(`${files.registry}.lock`);
    expect(snapshot()).toEqual(before);
    // A registry in another shape would be lost by a rewrite.
    const other = join(dir, 'other.yaml');
    writeFileSync(other, 'devices:\n  - { id: old-1, sector: agri, region: "220100", types: [soil] }\n');
    const cfg2 = join(dir, 'other-config.yaml');
    writeFileSync(cfg2, `catalogue: ${loadPipelineConfig(defaultConfigFile(), {}).catalogue}\ndevices: ${other}\n`);
    expect(add(cfg2, [], 'soil-x-1').stderr).toMatch(/the registry must be a YAML list of devices; not changed/);
    expect(readFileSync(other, 'utf8')).toContain('old-1');
  });

  it('an import without --broker-dir says the broker was not changed; CSV header and emptiness are named', () => {
    const { dir, config } = setup();
    const csv = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
    const r = jlpipe('devices', 'import', '-c', config, csv('ok.csv', 'id,sector,region,types\nsoil-nb-1,agri,220100,soil\n'));
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/no --broker-dir: only the registry changed/);
    expect(jlpipe('devices', 'import', '-c', config, csv('again.csv', 'id,sector,region,types\nsoil-nb-2,agri,220100,soil\nsoil-nb-1,agri,220100,soil\n')).stderr).toMatch(/again\.csv:3: column id: device "soil-nb-1" is already registered/);
    expect(jlpipe('devices', 'import', '-c', config, csv('twice.csv', 'id,sector,region,types,types\n')).stderr).toMatch(/twice\.csv:1: header: column "types" appears twice/);
    expect(jlpipe('devices', 'import', '-c', config, csv('empty.csv', 'id,sector,region,types\n')).stderr).toMatch(/empty\.csv: \(root\): no devices/);
  });
});
