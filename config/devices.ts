import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { RawDevice, Registry } from '../core/device.js';
import { makeAjv } from './ajv.js';
import type { Catalogue } from './catalogue.js';
import { devicesSchema } from './schemas/devices.schema.js';
import { readYamlFile, validateYaml } from './yaml-file.js';

export type { Device, RawDevice, Registry } from '../core/device.js';

const validateDevices = makeAjv({ useDefaults: true }).compile(devicesSchema);

/**
 * Loads the device registry. With a catalogue, also checks that every device's region and
 * message types exist there, so a typo is caught at start rather than as rejected traffic.
 */
export function loadRegistry(file: string, catalogue?: Catalogue): Registry {
  const yaml = readYamlFile(resolve(file));
  const list = validateYaml<RawDevice[]>(yaml, validateDevices);
  const registry: Registry = new Map();
  for (const [i, d] of list.entries()) {
    const fail = (sub: string, problem: string, path: (string | number)[] = []): never => {
      throw new ConfigError(yaml.file, `/${i}${sub}`, problem, yaml.lineOf([i, ...path]));
    };
    if (registry.has(d.id)) fail('/id', `duplicate device id "${d.id}"`, ['id']);
    if (catalogue) {
      if (!catalogue.divisions.has(d.region)) fail('/region', `region ${d.region} is not a division of catalogue ${catalogue.version}`, ['region']);
      for (const [j, t] of d.types.entries()) {
        if (!catalogue.byType.has(`${d.sector}/${t}`)) fail(`/types/${j}`, `message type ${d.sector}/${t} is not in catalogue ${catalogue.version}`, ['types', j]);
      }
    }
    registry.set(d.id, { ...d, key: d.key ? Buffer.from(d.key, 'hex') : undefined });
  }
  return registry;
}
