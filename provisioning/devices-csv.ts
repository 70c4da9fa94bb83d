import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvError, parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { ConfigError } from '../core/errors.js';
import type { Catalogue } from '../core/catalogue.js';
import { loadRegistry } from '../config/devices.js';
import { addDevices, type Credentials, type DeviceFiles, type NewDevice } from './devices.js';

/** Columns of `jlpipe devices import`: the first four are required. */
const COLUMNS = ['id', 'sector', 'region', 'types', 'keyed', 'critical'] as const;
const REQUIRED = COLUMNS.slice(0, 4);
const YES = new Set(['yes', 'true', '1', 'y']);
const NO = new Set(['no', 'false', '0', 'n', '']);

/**
 * Reads devices to register from a CSV file with a header row (docs/OPERATIONS.md "Devices"):
 * `id,sector,region,types[,keyed][,critical]`; `types` lists message types separated by spaces,
 * semicolons or (in a quoted field) commas; `keyed` and `critical` are yes/no. A bad row stops
 * the import naming the file, its line and the column: nothing is registered.
 */
export function readDevicesCsv(file: string, catalogue?: Catalogue): { devices: NewDevice[]; lines: number[] } {
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parse(readFileSync(file, 'utf8'), { columns: header(file), skip_empty_lines: true, comment: '#', trim: true, info: true, bom: true });
  } catch (e) {
    if (e instanceof CsvError) throw new ConfigError(file, 'row', e.message.replace(/^Invalid Record Length: /, ''), (e as CsvError & { lines?: number }).lines);
    throw e;
  }
  const devices = rows.map(({ record, info }) => {
    const at = (column: string, problem: string) => new ConfigError(file, `column ${column}`, problem, info.lines);
    for (const c of REQUIRED) if (!record[c]) throw at(c, 'is empty');
    const flag = (c: 'keyed' | 'critical') => {
      const v = (record[c] ?? '').toLowerCase();
      if (YES.has(v)) return true;
      if (NO.has(v)) return false;
      throw at(c, `must be yes or no, got "${record[c]}"`);
    };
    return {
      id: record.id,
      sector: record.sector,
      region: record.region,
      types: record.types.split(/[\s,;]+/).filter(Boolean),
      keyed: flag('keyed'),
      ...(flag('critical') ? { criticalInfrastructure: true } : {}),
    };
  });
  if (!devices.length) throw new ConfigError(file, '', 'no devices: after the header line, one row per device');
  const lines = rows.map((r) => r.info.lines);
  if (catalogue) checkRows(file, devices, lines, catalogue);
  return { devices, lines };
}

/**
 * Checks the rows as registry entries (the registry's schema and catalogue checks, duplicates
 * within the file), so an error names the CSV line and column rather than a registry index.
 */
function checkRows(file: string, devices: NewDevice[], lines: number[], catalogue: Catalogue): void {
  const dir = mkdtempSync(join(tmpdir(), 'jl-import-'));
  try {
    const probe = join(dir, 'devices.yaml');
    writeFileSync(probe, devices.map(({ keyed: _, ...d }) => `- ${JSON.stringify(d)}`).join('\n') + '\n');
    loadRegistry(probe, catalogue);
  } catch (e) {
    const m = e instanceof ConfigError ? /^\/(\d+)(?:\/(\w+))?/.exec(e.path) : null;
    if (!m || !(e instanceof ConfigError)) throw e;
    throw new ConfigError(file, `column ${m[2] === 'criticalInfrastructure' ? 'critical' : (m[2] ?? 'id')}`, e.problem, lines[Number(m[1])]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `jlpipe devices import`: registers every device of the CSV file, or none. */
export function importDevices(files: DeviceFiles, csvFile: string): Credentials[] {
  const { devices, lines } = readDevicesCsv(csvFile, files.catalogue);
  return addDevices(files, devices, (i, problem) => new ConfigError(csvFile, 'column id', problem, lines[i]));
}

/** The header check: known column names, the required ones present. */
function header(file: string) {
  return (names: string[]): string[] => {
    const cols = names.map((n) => n.trim().toLowerCase());
    const unknown = cols.find((c) => !(COLUMNS as readonly string[]).includes(c));
    if (unknown !== undefined) throw new ConfigError(file, 'header', `unknown column "${unknown}" (columns: ${COLUMNS.join(', ')}, separated by commas)`, 1);
    const twice = cols.find((c, i) => cols.indexOf(c) !== i);
    if (twice !== undefined) throw new ConfigError(file, 'header', `column "${twice}" appears twice`, 1);
    const missing = REQUIRED.filter((c) => !cols.includes(c));
    if (missing.length) throw new ConfigError(file, 'header', `missing column ${missing.join(', ')} (the first line names the columns: ${COLUMNS.join(',')})`, 1);
    return cols;
  };
}

/** The credentials of imported devices as CSV (`id,password,key`), for the vendor's flashing station. */
export function credentialsCsv(creds: Credentials[]): string {
  return stringify(creds.map((c) => [c.id, c.password ?? '', c.key ?? '']), { header: true, columns: ['id', 'password', 'key'] });
}
