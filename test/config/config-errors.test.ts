import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../config/catalogue.js';
import { loadRegistry } from '../../config/devices.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { ConfigError } from '../../core/errors.js';
import { loadLogKey } from '../../alerts/incident-log.js';
import { packageRoot } from '../../config/paths.js';
import { tempDir } from '../helpers/services.js';

const shipped = loadPipelineConfig(defaultConfigFile(), {});

/** Writes `text` to a temp file and returns the ConfigError that loading it throws. */
function errorOf(load: (file: string) => unknown, text: string, name = 'file.yaml'): ConfigError {
  const file = join(tempDir(), name);
  writeFileSync(file, text);
  try {
    load(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('config errors name the file, the path inside it and the problem', () => {
  // `path` is exact: '' where the file does not parse, so no path inside it can be named.
  const cases: { name: string; load: (f: string) => unknown; text: string; path: string; problem: RegExp; line?: number }[] = [
    { name: 'YAML syntax', load: (f) => loadPipelineConfig(f, {}), text: 'mqtt:\n\turl: x\n', path: '', problem: /YAML syntax: Tabs are not allowed/, line: 2 },
    { name: 'unknown option', load: (f) => loadPipelineConfig(f, {}), text: 'influx:\n  batchsize: 10\n', path: '/influx', problem: /unknown property "batchsize"/, line: 2 },
    { name: 'wrong type', load: (f) => loadPipelineConfig(f, {}), text: 'influx:\n  batchSize: lots\n', path: '/influx/batchSize', problem: /must be integer/, line: 2 },
    { name: 'bad enum', load: (f) => loadPipelineConfig(f, {}), text: 'influx:\n  api: v9\n', path: '/influx/api', problem: /must be one of/, line: 2 },
    { name: 'capacity of a region without storage', load: (f) => loadPipelineConfig(f, {}), text: 'capacity:\n  regions:\n    "220100": { writePointsPerSec: 1, cpuCores: 1 }\n', path: '/capacity/regions/220100', problem: /missing required property "storageBytes"/, line: 3 },
    { name: 'duplicate key', load: (f) => loadPipelineConfig(f, {}), text: 'http:\n  port: 1\nhttp:\n  port: 2\n', path: '', problem: /YAML syntax.*unique|Map keys must be unique/ },
    { name: 'device without types', load: (f) => loadRegistry(f), text: '- { id: a, sector: agri, region: "220100" }\n', path: '/0', problem: /missing required property "types"/, line: 1 },
    { name: 'device in an unknown sector', load: (f) => loadRegistry(f, loadCatalogue(shipped.catalogue)), text: '- { id: a, sector: mining, region: "220100", types: [soil] }\n', path: '/0/sector', problem: /sector mining is not a sector of catalogue .* \(agri, v2x, energy, iiot\)/ },
    { name: 'device sector that is no sector name', load: (f) => loadRegistry(f), text: '- { id: a, sector: Mining, region: "220100", types: [soil] }\n', path: '/0/sector', problem: /must match pattern/ },
    { name: 'duplicate device', load: (f) => loadRegistry(f), text: '- { id: a, sector: agri, region: "220100", types: [soil] }\n- { id: a, sector: agri, region: "220100", types: [soil] }\n', path: '/1/id', problem: /duplicate device id "a"/, line: 2 },
    { name: 'device region not in catalogue', load: (f) => loadRegistry(f, loadCatalogue(shipped.catalogue)), text: '- { id: a, sector: agri, region: "229999", types: [soil] }\n', path: '/0/region', problem: /not a division/ },
    { name: 'device type not in catalogue', load: (f) => loadRegistry(f, loadCatalogue(shipped.catalogue)), text: '- { id: a, sector: agri, region: "220100", types: [ozone] }\n', path: '/0/types/0', problem: /agri\/ozone is not in catalogue/ },
    { name: 'short device key', load: (f) => loadRegistry(f), text: '- { id: a, sector: agri, region: "220100", types: [soil], key: abcd }\n', path: '/0/key', problem: /must match pattern/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = errorOf(c.load, c.text);
      expect(e.file).toMatch(/file\.yaml$/);
      expect(e.path).toBe(c.path);
      expect(e.problem).toMatch(c.problem);
      if (c.line) expect(e.line).toBe(c.line);
      expect(e.message).toContain(e.file);
    });
  }

  it('catalogue: a bad entry schema, a duplicate code and a conflicting supplement', () => {
    const text = readFileSync(shipped.catalogue, 'utf8');
    let e = errorOf(loadCatalogue, text.replace('moisture: { type: number,', 'moisture: { type: [number, string],'));
    expect(e.path).toBe('/entries/0/schema/properties/moisture/type');
    e = errorOf(loadCatalogue, text.replace('code: "JL-NY-0102-001"', 'code: "JL-NY-0101-001"'));
    expect(e.problem).toMatch(/code JL-NY-0101-001 is already defined in/);
    expect(e.path).toBe('/entries/1');
    e = errorOf(loadCatalogue, text.replace('personalFields: [vehicle_id]', 'personalFields: [plate]'));
    expect(e.problem).toMatch(/"plate" is not a string property/);

    const dir = tempDir();
    copyFileSync(shipped.catalogue, join(dir, 'catalogue.yaml'));
    writeFileSync(join(dir, 'catalogue.yaml'), text.replace('supplements: []', 'supplements: [changchun.yaml]'));
    const soil = text.slice(text.indexOf('  - code: "JL-NY-0101-001"'), text.indexOf('  - code: "JL-NY-0102-001"'));
    writeFileSync(join(dir, 'changchun.yaml'), `publisher: 长春市政务服务和数字化建设管理局\nentries:\n${soil.replace('JL-NY-0101-001', 'JL-NY-0199-001').replace('measurement: agri_soil', 'measurement: agri_soil_cc')}`);
    try {
      loadCatalogue(join(dir, 'catalogue.yaml'));
      throw new Error('expected a conflict');
    } catch (err) {
      const ce = err as ConfigError;
      expect(ce.file).toBe(join(dir, 'changchun.yaml'));
      expect(ce.problem).toMatch(/message type agri\/soil is already defined in .*catalogue\.yaml/);
    }
  });

  it('a supplement that adds a resource is merged', () => {
    const dir = tempDir();
    const text = readFileSync(shipped.catalogue, 'utf8');
    writeFileSync(join(dir, 'catalogue.yaml'), text.replace('supplements: []', 'supplements: [yanbian.yaml]'));
    const soil = text.slice(text.indexOf('  - code: "JL-NY-0101-001"'), text.indexOf('  - code: "JL-NY-0102-001"'));
    writeFileSync(join(dir, 'yanbian.yaml'), `entries:\n${soil.replace('JL-NY-0101-001', 'JL-NY-0199-001').replace('measurement: agri_soil', 'measurement: agri_greenhouse').replace('messageType: soil', 'messageType: greenhouse')}`);
    const cat = loadCatalogue(join(dir, 'catalogue.yaml'));
    expect(cat.byType.get('agri/greenhouse')?.file).toBe(join(dir, 'yanbian.yaml'));
    expect(cat.entries).toHaveLength(8);
  });

  it('environment variables override the file; a bad one is named', () => {
    const c = loadPipelineConfig(defaultConfigFile(), { JL_MQTT_URL: 'mqtt://broker:1883', JL_INFLUX_DB: 'x', JL_HTTP_PORT: '9999', JL_DATA_DIR: '/tmp/jl-x' });
    expect([c.mqtt.url, c.influx.database, c.http.port, c.dataDir]).toEqual(['mqtt://broker:1883', 'x', 9999, '/tmp/jl-x']);
    expect(() => loadPipelineConfig(defaultConfigFile(), { JL_HTTP_PORT: 'eighty' })).toThrow(/environment: JL_HTTP_PORT: must be a port number/);
    // A broker without shared subscriptions (aedes): "none" is a plain subscription.
    expect(loadPipelineConfig(defaultConfigFile(), { JL_MQTT_SHARE_GROUP: 'none', JL_MQTT_PROTOCOL: '4' }).mqtt).toMatchObject({ shareGroup: '', protocolVersion: 4 });
    expect(loadPipelineConfig(defaultConfigFile(), { JL_MQTT_SHARE_GROUP: 'gw' }).mqtt.shareGroup).toBe('gw');
    expect(() => loadPipelineConfig(defaultConfigFile(), { JL_MQTT_SHARE_GROUP: 'a/b' })).toThrow(/environment: JL_MQTT_SHARE_GROUP: must be a name/);
  });

  it('secrets may come from files (NAME_FILE, the Docker secrets convention); an unreadable one is named', () => {
    const dir = tempDir();
    const put = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
    const c = loadPipelineConfig(defaultConfigFile(), {
      JL_INFLUX_TOKEN_FILE: put('token', 'tok-123\n'),
      JL_MQTT_USERNAME: 'jlpipe',
      JL_MQTT_PASSWORD_FILE: put('mqtt', 's3cret\n'),
      JL_PSEUDONYM_KEY_FILE: put('pk', `${'ab'.repeat(32)}\n`),
    });
    expect([c.influx.token, c.mqtt.username, c.mqtt.password, c.pseudonymKey]).toEqual(['tok-123', 'jlpipe', 's3cret', 'ab'.repeat(32)]);
    // The plain value wins over the file; a file that cannot be read stops start-up naming it.
    expect(loadPipelineConfig(defaultConfigFile(), { JL_INFLUX_TOKEN: 'plain', JL_INFLUX_TOKEN_FILE: join(dir, 'token') }).influx.token).toBe('plain');
    expect(() => loadPipelineConfig(defaultConfigFile(), { JL_INFLUX_TOKEN_FILE: join(dir, 'missing') })).toThrow(/environment: JL_INFLUX_TOKEN_FILE: cannot read .*missing/);
    expect(() => loadPipelineConfig(defaultConfigFile(), { JL_PSEUDONYM_KEY_FILE: put('bad', 'xyz\n') })).toThrow(/JL_PSEUDONYM_KEY: must be at least 16 bytes of hex/);
    expect(loadLogKey(join(dir, 'nokey'), join(dir, 'data'), { JL_INCIDENT_LOG_KEY_FILE: put('lk', `${'cd'.repeat(32)}\n`) })).toEqual(Buffer.alloc(32, 0xcd));
  });

  it('jlpipe validate-config and start stop with exit code 2 and the precise error', () => {
    const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
    const file = join(tempDir(), 'pipeline.yaml');
    writeFileSync(file, 'influx:\n  flushMs: -5\n');
    // A `start` that did not stop would run on: spawnSync kills it after the timeout.
    const timeout = 60_000;
    for (const cmd of ['validate-config', 'start']) {
      const r = spawnSync(process.execPath, [cli, cmd, '-c', file], { encoding: 'utf8', timeout });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`config error: ${file}:2: /influx/flushMs: must be >= 1`);
    }
    const ok = spawnSync(process.execPath, [cli, 'validate-config'], { encoding: 'utf8', timeout });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).devices).toBeGreaterThan(900);
  });
});
