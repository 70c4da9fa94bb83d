import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { deviceSchema, type Device, type RawDevice, type Registry } from '../core/device.js';
import { makeAjv } from './ajv.js';
import type { Catalogue } from './catalogue.js';
import { devicesSchema } from './schemas/devices.schema.js';
import { describeAjvError, pointerToPath, readYamlList, validateYaml, type KnownLine } from './yaml-file.js';

export type { Device, RawDevice, Registry } from '../core/device.js';

const ajv = makeAjv({ useDefaults: true });
const validateDevices = ajv.compile(devicesSchema);
const validateDevice = ajv.compile(deviceSchema);

/** A registry file's last good load: its text, where each device's line is, the devices. */
interface LastLoad {
  text: string;
  starts: number[];
  lengths: number[];
  devices: Device[];
}

/**
 * Per registry file, its last good load. A line read before yields the same device (parsed and
 * schema-checked alone), so a reload parses only the lines that changed. Holds the last few
 * files only (one text each); a device object is shared by the registries that hold it.
 */
const lastLoads = new Map<string, LastLoad>();
const MAX_FILES = 4;

/**
 * The devices of the lines a new text shares with the last load's: those wholly inside the
 * common start (same place, same number) or the common end (found by their old offset). The
 * lines between are parsed again: an edit of a few lines costs a few parses.
 */
function knownLines(last: LastLoad, text: string): KnownLine {
  const head = commonPrefix(last.text, text);
  const tail = commonSuffix(last.text, text, Math.min(last.text.length, text.length) - head);
  const shift = last.text.length - text.length;
  const tailFrom = text.length - tail;
  return (start, end, n) => {
    // The line break after the line must be common too, or the old line may go on.
    if ((text.charCodeAt(end) === 0x0d ? end + 1 : end) < head) return n < last.devices.length && last.starts[n] === start ? last.devices[n] : undefined;
    if (start - 1 < tailFrom || start === 0) return undefined;
    const i = bisect(last.starts, start + shift);
    return i >= 0 && last.lengths[i] === end - start ? last.devices[i] : undefined;
  };
}

const CHUNK = 1 << 16;

/** Length of the longest common start of a and b (compared a chunk at a time: memcmp speed). */
function commonPrefix(a: string, b: string): number {
  const max = Math.min(a.length, b.length);
  let i = 0;
  while (i + CHUNK <= max && a.startsWith(b.slice(i, i + CHUNK), i)) i += CHUNK;
  let lo = 0;
  let hi = Math.min(CHUNK, max - i);
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (a.startsWith(b.slice(i, i + mid), i)) lo = mid;
    else hi = mid - 1;
  }
  return i + lo;
}

/** Length of the longest common end of a and b, at most `max`. */
function commonSuffix(a: string, b: string, max: number): number {
  const same = (k: number) => a.endsWith(b.slice(b.length - k));
  let i = 0;
  while (i + CHUNK <= max && same(i + CHUNK)) i += CHUNK;
  let lo = i;
  let hi = Math.min(i + CHUNK, max);
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (same(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Index of `x` in the ascending `xs`, or -1. */
function bisect(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] === x) return mid;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * Loads the device registry. With a catalogue, also checks that every device's region and
 * message types exist there, so a typo is caught at start rather than as rejected traffic.
 * Synchronous (hot reload calls it on the event loop), so it must stay fast: in the one-line
 * form 200,000 devices take well under a second, and a reload only parses the changed lines.
 */
export function loadRegistry(file: string, catalogue?: Catalogue): Registry {
  const path = resolve(file);
  const last = lastLoads.get(path);
  const yaml = readYamlList(path, last && ((text) => knownLines(last, text)));
  const { list } = yaml;
  let devices: RawDevice[];
  /** 1 for a device just parsed (its key still hex), 0 for one known from the last load. */
  let fresh: Uint8Array;
  if (list) {
    fresh = new Uint8Array(list.items.length);
    // Each new device alone: the same first error, at the same path, as the list's schema.
    for (const i of list.parsed) {
      fresh[i] = 1;
      if (!validateDevice(list.items[i])) {
        const e = validateDevice.errors![0];
        throw new ConfigError(yaml.file, `/${i}${e.instancePath}`, describeAjvError(e), yaml.lineOf([i, ...pointerToPath(e.instancePath)]));
      }
    }
    devices = list.items as RawDevice[];
  } else {
    devices = validateYaml<RawDevice[]>(yaml, validateDevices);
    fresh = new Uint8Array(devices.length).fill(1);
  }
  const fail = (i: number, sub: string, problem: string, at: (string | number)[]): never => {
    throw new ConfigError(yaml.file, `/${i}${sub}`, problem, yaml.lineOf([i, ...at]));
  };
  const knownTypes = new Map<string, Set<string>>(); // per sector, types checked already: devices share a few
  const registry: Registry = new Map();
  const loaded: Device[] = new Array<Device>(devices.length);
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i];
    if (registry.has(d.id)) fail(i, '/id', `duplicate device id "${d.id}"`, ['id']);
    if (catalogue) {
      if (!catalogue.divisions.has(d.region)) fail(i, '/region', `region ${d.region} is not a division of catalogue ${catalogue.version}`, ['region']);
      if (!catalogue.sectors.has(d.sector)) fail(i, '/sector', `sector ${d.sector} is not a sector of catalogue ${catalogue.version} (${[...catalogue.sectors].join(', ')})`, ['sector']);
      let checked = knownTypes.get(d.sector);
      if (!checked) knownTypes.set(d.sector, (checked = new Set()));
      for (let j = 0; j < d.types.length; j++) {
        if (checked.has(d.types[j])) continue;
        const st = `${d.sector}/${d.types[j]}`;
        if (!catalogue.byType.has(st)) fail(i, `/types/${j}`, `message type ${st} is not in catalogue ${catalogue.version}`, ['types', j]);
        checked.add(d.types[j]);
      }
    }
    loaded[i] = fresh[i] ? toDevice(d) : (d as unknown as Device);
    registry.set(d.id, loaded[i]);
  }
  lastLoads.delete(path);
  if (list) lastLoads.set(path, { text: yaml.text, starts: list.starts, lengths: list.lengths, devices: loaded });
  for (const f of lastLoads.keys()) if (lastLoads.size > MAX_FILES) lastLoads.delete(f);
  return registry;
}

/** The parsed object becomes the device (its hex key a Buffer): no copy of 200,000 objects. */
function toDevice(d: RawDevice): Device {
  const device = d as unknown as Device;
  device.key = d.key ? Buffer.from(d.key, 'hex') : undefined;
  if (d.previousKey) {
    device.previousKey = Buffer.from(d.previousKey, 'hex');
    device.previousKeyUntil = d.previousKeyUntil ? Date.parse(d.previousKeyUntil) : 0;
  } else {
    delete device.previousKey;
    delete device.previousKeyUntil;
  }
  return device;
}
