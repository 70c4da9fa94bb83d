import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Catalogue } from '../core/catalogue.js';
import { loadRegistry } from '../config/devices.js';
import { brokerAcl, setPasswords } from './broker-auth.js';
import { writeKeepingMode } from './write-file.js';

/** The secrets docker-compose.yml reads, one file each under deploy/secrets/. */
export const DEPLOYMENT_SECRETS = {
  'influx-token': 32,
  'influx-admin-password': 16,
  'grafana-admin-password': 16,
  'grafana-influx-password': 16,
  'mqtt-pipeline-password': 16,
  'mqtt-subscriber-password': 16,
  'pseudonym-key': 32,
  'incident-log-key': 32,
} as const;

/** The broker users that are not devices. */
export const SERVICE_USERS = { pipeline: 'jlpipe', subscriber: 'jlsubscriber' } as const;

export interface DeploymentFiles {
  secrets: string;
  /** The device registry (with keys), mounted read-only into the pipeline. */
  registry: string;
  passwordFile: string;
  aclFile: string;
}

export function deploymentFiles(dir: string): DeploymentFiles {
  return { secrets: join(dir, 'secrets'), registry: join(dir, 'secrets', 'registry', 'devices.yaml'), passwordFile: join(dir, 'mosquitto', 'passwd'), aclFile: join(dir, 'mosquitto', 'acl') };
}

/**
 * Makes what the compose deployment needs and git must not hold: a random value per secret
 * file, an empty device registry, and the broker's password file (the pipeline's and the
 * subscribers' logins) and ACL. What exists is kept, so it can run again after an upgrade.
 *
 * Modes: deploy/secrets is 0700 (no other host user reaches inside), the files in it 0644
 * because the containers read them as their own users (node 1000, grafana 472, influxdb 1000,
 * mosquitto 1883) through bind mounts that keep host modes. The password file holds only
 * PBKDF2 hashes of 128-bit random passwords.
 */
export function initDeployment(dir: string, catalogue: Catalogue): { created: string[]; kept: string[] } {
  const f = deploymentFiles(dir);
  const created: string[] = [];
  const kept: string[] = [];
  mkdirSync(f.secrets, { recursive: true, mode: 0o700 });
  chmodSync(f.secrets, 0o700);
  const make = (file: string, text: () => string) => {
    if (existsSync(file)) return void kept.push(file);
    writeFileSync(file, text(), { mode: 0o644, flag: 'wx' });
    chmodSync(file, 0o644);
    created.push(file);
  };
  for (const [name, bytes] of Object.entries(DEPLOYMENT_SECRETS)) make(join(f.secrets, name), () => randomBytes(bytes).toString('hex') + '\n');
  mkdirSync(join(f.secrets, 'registry'), { recursive: true, mode: 0o755 });
  make(f.registry, () => '# Device registry: `jlpipe devices add | import | remove | rotate-key` keep it, the password file and the ACL in step.\n[]\n');
  mkdirSync(join(dir, 'mosquitto'), { recursive: true });
  const read = (name: string) => readFileSync(join(f.secrets, name), 'utf8').trim();
  if (!existsSync(f.passwordFile)) {
    setPasswords(f.passwordFile, new Map([[SERVICE_USERS.pipeline, read('mqtt-pipeline-password')], [SERVICE_USERS.subscriber, read('mqtt-subscriber-password')]]));
    chmodSync(f.passwordFile, 0o644);
    created.push(f.passwordFile);
  } else kept.push(f.passwordFile);
  // The ACL always follows the registry.
  writeKeepingMode(f.aclFile, brokerAcl(loadRegistry(f.registry, catalogue).values(), SERVICE_USERS));
  chmodSync(f.aclFile, 0o644);
  return { created, kept };
}
