import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '../core/errors.js';
import type { RawDevice } from '../core/device.js';
import type { Catalogue } from '../core/catalogue.js';
import { loadRegistry, type Registry } from '../config/devices.js';
import { writeKeepingMode } from './write-file.js';
import { brokerAcl, removePasswords, setPasswords, type ServiceUsers } from './broker-auth.js';

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
 * Adds devices: each gets a broker password and, when keyed, a signing key (32 random bytes,
 * sigScheme v2). The registry is checked whole against the catalogue before it replaces the old
 * one, then the broker's password file and ACL follow it.
 */
export function addDevices(files: DeviceFiles, devices: NewDevice[]): Credentials[] {
  const items = readItems(files.registry);
  const ids = new Set(items.map((d) => d.id));
  const out: Credentials[] = [];
  for (const { keyed, ...d } of devices) {
    if (ids.has(d.id)) throw new ConfigError(files.registry, '', `device "${d.id}" is already registered`);
    ids.add(d.id);
    const key = keyed ? secret(32) : undefined;
    items.push({ ...d, ...(key ? { key, sigScheme: 'v2' as const } : {}) });
    out.push({ id: d.id, password: files.broker ? secret(16) : undefined, key });
  }
  writeItems(files, items);
  if (files.broker) setPasswords(files.broker.passwordFile, new Map(out.map((c) => [c.id, c.password!])));
  return out;
}

/** Removes a device from the registry and the broker: its login stops working at the next reload. */
export function removeDevice(files: DeviceFiles, id: string): void {
  const items = readItems(files.registry);
  const kept = items.filter((d) => d.id !== id);
  if (kept.length === items.length) throw new ConfigError(files.registry, '', `device "${id}" is not registered`);
  writeItems(files, kept);
  if (files.broker) removePasswords(files.broker.passwordFile, new Set([id]));
}

/**
 * Gives a keyed device a new signing key. The old key keeps verifying for `graceMs` (until
 * `previousKeyUntil`), so the device can take the new key without a reading being refused.
 */
export function rotateKey(files: DeviceFiles, id: string, graceMs: number, now = Date.now()): Credentials {
  const items = readItems(files.registry);
  const d = items.find((x) => x.id === id);
  if (!d) throw new ConfigError(files.registry, '', `device "${id}" is not registered`);
  if (!d.key) throw new ConfigError(files.registry, '', `device "${id}" has no key to rotate (it does not sign)`);
  const key = secret(32);
  Object.assign(d, { previousKey: d.key, previousKeyUntil: new Date(now + graceMs).toISOString(), key });
  writeItems(files, items);
  return { id, key };
}

function readItems(file: string): RegistryDevice[] {
  const list: unknown = parse(readFileSync(file, 'utf8'));
  return Array.isArray(list) ? (list as RegistryDevice[]) : [];
}

/**
 * Writes the registry, one device per line (the loader's fast form), after loading it in full
 * against the catalogue from a temporary file; then the ACL from it.
 */
function writeItems(files: DeviceFiles, items: RegistryDevice[]): void {
  let registry: Registry | undefined;
  writeKeepingMode(files.registry, items.map((d) => `- ${JSON.stringify(d)}`).join('\n') + '\n', (next) => {
    try {
      registry = loadRegistry(next, files.catalogue);
    } catch (e) {
      // Name the registry, not the temporary file: that is the file the operator knows.
      throw e instanceof ConfigError ? new ConfigError(files.registry, e.path, e.problem) : e;
    }
  });
  if (files.broker) writeKeepingMode(files.broker.aclFile, brokerAcl(registry!.values(), files.broker.users));
}
