import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '../core/errors.js';
import type { RawDevice } from '../core/device.js';
import type { Catalogue } from '../core/catalogue.js';
import { loadRegistry, type Registry } from '../config/devices.js';
import { FileSet, withLock } from './write-file.js';
import { brokerAcl, passwordFileText, type ServiceUsers } from './broker-auth.js';

/** A device as written in the registry file (`key` in hex). */
export type RegistryDevice = Partial<RawDevice> & Pick<RawDevice, 'id' | 'sector' | 'region' | 'types'>;

/** A device to add: `keyed` gives it a signing key. */
export type NewDevice = RegistryDevice & { keyed?: boolean };

/** Where `jlpipe devices` keeps what it changes: the registry, and the broker's password file and ACL. */
export interface DeviceFiles {
  registry: string;
  catalogue: Catalogue;
  /** The broker's password file and ACL; left alone when absent. */
  broker?: { passwordFile: string; aclFile: string; users: ServiceUsers };
}

/** What a device is given once, to be put into its firmware: never written anywhere by the pipeline. */
export interface Credentials {
  id: string;
  /** The broker password (username: the device id). */
  password?: string;
  /** The HMAC key (hex) of a keyed device. */
  key?: string;
}

const secret = (bytes: number) => randomBytes(bytes).toString('hex');

/**
 * Checks new ids against what a broker login may be: not a service account's name (a device
 * "jlpipe" would take over the pipeline's login and its read of jl/#), no ":" (the password
 * file's separator: mosquitto drops such a line).
 */
function checkLoginName(files: DeviceFiles, id: string, where: (problem: string) => ConfigError): void {
  if (!files.broker) return;
  const users = files.broker.users;
  if (id === users.pipeline || id === users.subscriber) throw where(`"${id}" is the broker login of a service (${[users.pipeline, users.subscriber].filter(Boolean).join(', ')}): a device may not have it`);
  if (id.includes(':')) throw where(`"${id}" contains ":", which a broker login cannot`);
}

/**
 * Adds devices: each gets a broker password and, when keyed, a signing key (32 random bytes,
 * sigScheme v2). The new registry is checked whole against the catalogue; then the password
 * file, the ACL and the registry are replaced together (FileSet), under a lock. `where` names
 * the source of device i in errors (the CSV line of an import).
 */
export function addDevices(files: DeviceFiles, devices: NewDevice[], where: (i: number, problem: string) => ConfigError = (_, p) => new ConfigError(files.registry, '', p)): Credentials[] {
  return withLock(files.registry, () => {
    const items = readItems(files.registry);
    const ids = new Set(items.map((d) => d.id));
    const out: Credentials[] = [];
    devices.forEach(({ keyed, ...d }, i) => {
      if (ids.has(d.id)) throw where(i, `device "${d.id}" is already registered`);
      checkLoginName(files, d.id, (problem) => where(i, problem));
      ids.add(d.id);
      const key = keyed ? secret(32) : undefined;
      items.push({ ...d, ...(key ? { key, sigScheme: 'v2' as const } : {}) });
      out.push({ id: d.id, password: files.broker ? secret(16) : undefined, key });
    });
    writeAll(files, items, files.broker && { set: new Map(out.map((c) => [c.id, c.password!])) });
    return out;
  });
}

/** Removes a device from the registry and the broker: its login stops working at the next reload. */
export function removeDevice(files: DeviceFiles, id: string): void {
  withLock(files.registry, () => {
    const items = readItems(files.registry);
    const kept = items.filter((d) => d.id !== id);
    if (kept.length === items.length) throw new ConfigError(files.registry, '', `device "${id}" is not registered`);
    writeAll(files, kept, files.broker && { removed: new Set([id]) });
  });
}

/**
 * Gives a keyed device a new signing key. The old key keeps verifying for `graceMs` (until
 * `previousKeyUntil`), so the device can take the new key without a reading being refused.
 */
export function rotateKey(files: DeviceFiles, id: string, graceMs: number, now = Date.now()): Credentials {
  return withLock(files.registry, () => {
    const items = readItems(files.registry);
    const d = items.find((x) => x.id === id);
    if (!d) throw new ConfigError(files.registry, '', `device "${id}" is not registered`);
    if (!d.key) throw new ConfigError(files.registry, '', `device "${id}" has no key to rotate (it does not sign)`);
    const key = secret(32);
    Object.assign(d, { previousKey: d.key, previousKeyUntil: new Date(now + graceMs).toISOString(), key });
    writeAll(files, items);
    return { id, key };
  });
}

/** The registry's devices. Anything but a list (or an empty file) is refused: rewriting it would lose it. */
function readItems(file: string): RegistryDevice[] {
  let list: unknown;
  try {
    list = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, '', `cannot read the registry: ${(e as Error).message.split('\n')[0]}`);
  }
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw new ConfigError(file, '', 'the registry must be a YAML list of devices; not changed');
  return list as RegistryDevice[];
}

/**
 * Stages the registry (one device per line, the loader's fast form; loaded in full against the
 * catalogue first), the broker's password file and the ACL made from it, then puts all three in
 * place: passwords first, registry last, so a device is never registered without its login.
 */
function writeAll(files: DeviceFiles, items: RegistryDevice[], logins?: { set?: Map<string, string>; removed?: Set<string> }): void {
  const set = new FileSet();
  try {
    let registry: Registry | undefined;
    set.stage(files.registry, items.map((d) => `- ${JSON.stringify(d)}`).join('\n') + '\n', (next) => (registry = load(files, next)), true);
    if (files.broker) {
      set.stage(files.broker.passwordFile, passwordFileText(files.broker.passwordFile, logins?.set ?? new Map<string, string>(), logins?.removed));
      set.stage(files.broker.aclFile, brokerAcl(registry!.values(), files.broker.users));
    }
    set.commit();
  } finally {
    set.discard();
  }
}

/** Loads a staged registry, naming the registry (the file the operator knows) in errors. */
function load(files: DeviceFiles, next: string): Registry {
  try {
    return loadRegistry(next, files.catalogue);
  } catch (e) {
    throw e instanceof ConfigError ? new ConfigError(files.registry, e.path, e.problem) : e;
  }
}
