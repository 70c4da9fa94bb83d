import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { LiveConfig } from '../../config/live-config.js';
import { ConfigError } from '../../core/errors.js';
import { tempDir } from '../helpers/services.js';

const shipped = loadPipelineConfig(defaultConfigFile(), {});
const original = readFileSync(shipped.catalogue, 'utf8');
const SOIL_PH = '        ph: { type: number, minimum: 3, maximum: 9, x-unit: pH }\n';

/** A copy of the shipped catalogue and registry in a temp dir, and a LiveConfig on them. */
async function live(): Promise<{ file: string; config: LiveConfig }> {
  const dir = tempDir();
  const file = join(dir, 'catalogue.yaml');
  writeFileSync(file, original);
  copyFileSync(shipped.devices, join(dir, 'devices.yaml'));
  const config = await LiveConfig.load(file, join(dir, 'devices.yaml'), pino({ level: 'silent' }));
  onTestFinished(() => config.close());
  return { file, config };
}

function errorOf(text: string): ConfigError {
  const file = join(tempDir(), 'catalogue.yaml');
  writeFileSync(file, text);
  try {
    loadCatalogue(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('catalogue: reserved field names (review row 8 b, c)', () => {
  it.each([
    ['time', /field name "time" is reserved: InfluxDB drops a field named "time"/],
    ['seq', /field name "seq" is reserved: every point stores the envelope's "seq"/],
  ])('a data field named %s is refused at load, naming file, path and line', (name, problem) => {
    expect(original).toContain(SOIL_PH);
    const e = errorOf(original.replace(SOIL_PH, `${SOIL_PH}        ${name}: { type: integer }\n`));
    expect(e.file).toMatch(/catalogue\.yaml$/);
    expect(e.path).toBe(`/entries/0/schema/properties/${name}`);
    expect(e.problem).toMatch(problem);
    expect(e.line).toBe(original.split('\n').indexOf(SOIL_PH.trimEnd()) + 2);
  });

  it('and on hot reload, keeping the running version', async () => {
    const { file, config } = await live();
    writeFileSync(file, original.replace(SOIL_PH, `${SOIL_PH}        time: { type: string }\n`).replace('version: "2026.11.1"', 'version: "2099.1.1"'));
    expect(config.reload()).toBe(false);
    expect(config.status.lastError).toMatch(/catalogue\.yaml:\d+: \/entries\/0\/schema\/properties\/time: field name "time" is reserved/);
    expect(config.catalogue().version).toBe('2026.11.1');
  });
});

describe('hot reload refuses a change of a field\'s InfluxDB type (review row 15)', () => {
  it('number -> integer is refused with file, entry path and field; the running version stays', async () => {
    const { file, config } = await live();
    writeFileSync(file, original.replace(SOIL_PH, SOIL_PH.replace('type: number', 'type: integer')).replace('version: "2026.11.1"', 'version: "2099.1.1"'));
    expect(config.reload()).toBe(false);
    const line = original.split('\n').indexOf(SOIL_PH.trimEnd()) + 1;
    expect(config.status.lastError).toBe(`${file}:${line}: /entries/0/schema/properties/ph/type: field "ph" of measurement agri_soil changes type from float to integer: InfluxDB keeps a field's type and would refuse every later point (use a new field name)`);
    expect(config.catalogue().version).toBe('2026.11.1');
    expect(config.catalogue().byType.get('agri/soil')!.fieldTypes.ph).toBe('float');
    expect(config.status.failures).toBe(1);
  });

  it('adding and removing fields, or other changes, still reload', async () => {
    const { file, config } = await live();
    writeFileSync(file, original.replace(SOIL_PH, '        salinity: { type: number }\n').replace('version: "2026.11.1"', 'version: "2099.1.1"'));
    expect(config.reload()).toBe(true);
    expect(config.catalogue().version).toBe('2099.1.1');
    expect(config.status.lastError).toBeUndefined();
  });
});
