import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { loadRegistry } from '../../config/devices.js';
import { packageRoot } from '../../config/paths.js';
import { signV2 } from '../../core/signature.js';
import { validateAndTag } from '../../processors/validate-and-tag.js';
import { setPasswords } from '../../provisioning/broker-auth.js';
import { addDevices, removeDevice, rotateKey, type Credentials, type DeviceFiles } from '../../provisioning/devices.js';
import { LocalMosquitto } from '../../services/mosquitto.js';
import { tempDir, uniqueName } from '../helpers/services.js';

const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');

// Done-when 2 of issue 13 with the real mosquitto: each device its own login and an ACL generated
// from the registry, so a device publishing under another's id is refused by the broker itself;
// `jlpipe devices` keeps registry, logins and ACL in step; a rotated key keeps verifying for its grace period.
describe('per-device broker credentials and ACL', () => {
  let dir: string;
  let broker: LocalMosquitto;
  let files: DeviceFiles;
  let a: Credentials;
  let b: Credentials;
  const PIPELINE_PASSWORD = 'pipeline-secret';

  const connect = (username: string, password: string) => mqtt.connectAsync(broker.url, { clientId: uniqueName(username), username, password, protocolVersion: 5, reconnectPeriod: 0, clean: true });

  beforeAll(async () => {
    dir = tempDir();
    const catalogue = loadCatalogue(loadPipelineConfig(defaultConfigFile(), {}).catalogue);
    const registry = join(dir, 'devices.yaml');
    writeFileSync(registry, '- { id: soil-existing, sector: agri, region: "220100", types: [soil] }\n');
    const brokerDir = join(dir, 'broker');
    mkdirSync(brokerDir);
    files = { registry, catalogue, broker: { passwordFile: join(brokerDir, 'passwd'), aclFile: join(brokerDir, 'acl'), users: { pipeline: 'jlpipe', subscriber: 'jlsubscriber' } } };
    setPasswords(files.broker!.passwordFile, new Map([['jlpipe', PIPELINE_PASSWORD]]));
    [a, b] = addDevices(files, [
      { id: 'meter-acl-a', sector: 'energy', region: '220100', types: ['meter'], keyed: true },
      { id: 'meter-acl-b', sector: 'energy', region: '220200', types: ['meter'], keyed: true },
    ]);
    broker = await LocalMosquitto.start(join(dir, 'mosquitto'), 0, undefined, { passwordFile: files.broker!.passwordFile, aclFile: files.broker!.aclFile });
  });
  afterAll(() => broker?.stop());

  it('gives each device a login and a key, and keeps them out of the files in clear', () => {
    expect(a.password).toMatch(/^[0-9a-f]{32}$/);
    expect(a.key).toMatch(/^[0-9a-f]{64}$/);
    const passwd = readFileSync(files.broker!.passwordFile, 'utf8');
    expect(passwd).toMatch(/^meter-acl-a:\$7\$/m);
    expect(passwd).not.toContain(a.password);
    expect(readFileSync(files.broker!.aclFile, 'utf8')).toContain('user meter-acl-a\ntopic write jl/energy/220100/meter-acl-a/#');
    expect(loadRegistry(files.registry, files.catalogue).get('meter-acl-a')?.sigScheme).toBe('v2');
  });

  it('the broker delivers a device\'s own topic and refuses another device\'s id', async () => {
    const step = <T>(what: string, p: Promise<T>) => Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), 5000))]);
    const pipeline = await step('pipeline connect', connect('jlpipe', PIPELINE_PASSWORD));
    const seen: string[] = [];
    pipeline.on('message', (topic) => seen.push(topic));
    await step('subscribe', pipeline.subscribeAsync('jl/#', { qos: 1 }));
    const device = await step('device connect', connect(a.id, a.password!));
    const own = 'jl/energy/220100/meter-acl-a/meter';
    const other = 'jl/energy/220200/meter-acl-b/meter';
    await step('own publish', device.publishAsync(own, '{}', { qos: 1 }));
    // MQTT 5: the broker answers the PUBACK with reason 0x87 (not authorized).
    await expect(step('other publish', device.publishAsync(other, '{}', { qos: 1 }))).rejects.toThrow(/Not authorized|135/i);
    // Its own id in another region is refused too (a fresh connection: mqtt.js leaves the next
    // publish after a refused one unanswered).
    const moved = await step('device connect', connect(a.id, a.password!));
    await expect(step('other region', moved.publishAsync(own.replace('220100', '220200'), '{}', { qos: 1 }))).rejects.toThrow(/Not authorized|135/i);
    await step('moved end', moved.endAsync(true));
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([own]);
    await step('device end', device.endAsync(true));
    await step('pipeline end', pipeline.endAsync(true));
    await expect(step('wrong password', connect(a.id, 'wrong'))).rejects.toThrow(/Not authorized|Bad User Name or Password|134|135/i);
  });

  it('a removed device cannot log in once mosquitto has reloaded', async () => {
    const before = await connect(b.id, b.password!);
    await before.endAsync();
    removeDevice(files, b.id);
    broker.reload();
    await new Promise((r) => setTimeout(r, 300));
    await expect(connect(b.id, b.password!)).rejects.toThrow(/Not authorized|Bad User Name or Password|134|135/i);
    expect(loadRegistry(files.registry, files.catalogue).has(b.id)).toBe(false);
  });

  it('rotate-key: the old key verifies during the grace period, only the new one after', () => {
    const now = Date.now();
    const rotated = rotateKey(files, a.id, 3_600_000, now);
    expect(rotated.key).not.toBe(a.key);
    const registry = loadRegistry(files.registry, files.catalogue);
    const ctx = { catalogue: () => files.catalogue, registry: () => registry, pseudonymKey: Buffer.alloc(32, 7), maxPayloadBytes: 65536, futureToleranceMs: 300_000 };
    const topic = 'jl/energy/220100/meter-acl-a/meter';
    let seq = 1;
    const send = (key: string, receivedAt: number) => {
      const body = JSON.stringify({ ts: now - 60_000 + seq, seq: seq++, data: { voltage_a: 220, current_a: 10, active_power: 2, power_factor: 0.9, frequency: 50, energy_total: 100 + seq } });
      const o = validateAndTag(ctx, { topic, payload: Buffer.from(body), receivedAt, sig: signV2(Buffer.from(key, 'hex'), topic, body) }, now);
      return o.ok ? 'stored' : o.rejection.reason;
    };
    expect(send(rotated.key!, now)).toBe('stored');
    expect(send(a.key!, now + 1_000)).toBe('stored');
    expect(send(a.key!, now + 3_600_001)).toBe('bad_signature');
    expect(send(rotated.key!, now + 3_600_002)).toBe('stored');
  });

  it('jlpipe devices add prints the credentials once and updates registry, logins and ACL', () => {
    const config = join(dir, 'pipeline.yaml');
    writeFileSync(config, `catalogue: ${loadPipelineConfig(defaultConfigFile(), {}).catalogue}\ndevices: ${files.registry}\ndataDir: ${join(dir, 'data')}\npseudonymKey: "${'22'.repeat(32)}"\n`);
    const out = execFileSync(process.execPath, [cli, 'devices', 'add', '-c', config, '--broker-dir', join(dir, 'broker'), '--id', 'soil-acl-c', '--sector', 'agri', '--region', '220300', '--types', 'soil']).toString();
    const c = JSON.parse(out) as Credentials;
    expect(c).toMatchObject({ id: 'soil-acl-c' });
    expect(c.password).toMatch(/^[0-9a-f]{32}$/);
    expect(c.key).toBeUndefined();
    expect(readFileSync(files.broker!.aclFile, 'utf8')).toContain('topic write jl/agri/220300/soil-acl-c/#');
    expect(readFileSync(files.broker!.passwordFile, 'utf8')).toMatch(/^soil-acl-c:\$7\$/m);
    expect(() => execFileSync(process.execPath, [cli, 'devices', 'add', '-c', config, '--id', 'soil-acl-c', '--sector', 'agri', '--region', '220300', '--types', 'soil'], { stdio: 'pipe' })).toThrow(/already registered/);
    expect(() => execFileSync(process.execPath, [cli, 'devices', 'add', '-c', config, '--id', 'x-1', '--sector', 'water', '--region', '220300', '--types', 'flow'], { stdio: 'pipe' })).toThrow(/sector water is not a sector of catalogue/);
  });
});
