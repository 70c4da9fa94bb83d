import { dirname, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { ConfigError } from '../core/errors.js';
import type { FromSchema } from 'json-schema-to-ts';
import { FIELD_NAME, RESERVED_FIELDS, type Catalogue, type CatalogueEntry, type Division, type FieldType, type RawCatalogueEntry } from '../core/catalogue.js';
import { makeAjv } from './ajv.js';
import { catalogueSchema, supplementSchema } from './schemas/catalogue.schema.js';
import { readYamlFile, validateYaml, type YamlFile } from './yaml-file.js';

export { GRADE_RANK, higherGrade } from '../core/catalogue.js';
export type { Catalogue, CatalogueEntry, Division, FieldType, Grade, RawCatalogueEntry, Share } from '../core/catalogue.js';

type RawCatalogue = FromSchema<typeof catalogueSchema>;
type RawSupplement = FromSchema<typeof supplementSchema, { references: [typeof catalogueSchema] }>;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m` -> 600000. */
export function parseDuration(s: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(s);
  if (!m) throw new Error(`bad duration "${s}"`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

const SCHEMA_TYPES: Record<string, FieldType> = { number: 'float', integer: 'integer', string: 'string', boolean: 'boolean' };

// InfluxDB 1.x drops a field named `time` (and answers 204); `seq` is the envelope's, stored on
// every point: a data field of either name would be lost without an error.
/** Where each loaded entry is written: its index in its file and the file's line lookup. */
const origins = new WeakMap<CatalogueEntry, { index: number; yaml: YamlFile }>();

// Meta-validation of the catalogue structure; the data schemas get a fresh ajv per load
// so that a reload never collides with the schemas of the previous version.
const metaAjv = makeAjv({ useDefaults: true, allErrors: false });
metaAjv.addSchema(catalogueSchema);
const validateCatalogue = metaAjv.getSchema('jl:catalogue')!;
const validateSupplement = metaAjv.compile(supplementSchema);

function compileEntry(yaml: YamlFile, index: number, raw: RawCatalogueEntry, ajv: ReturnType<typeof makeAjv>): CatalogueEntry {
  const at = (suffix: string) => `/entries/${index}${suffix}`;
  const fail = (suffix: string, problem: string, path: (string | number)[] = []): never => {
    throw new ConfigError(yaml.file, at(suffix), problem, yaml.lineOf(['entries', index, ...path]));
  };
  const schema = raw.schema;
  if (schema.type !== 'object' || schema.additionalProperties !== false || typeof schema.properties !== 'object') {
    fail('/schema', 'must be an object schema with "properties" and "additionalProperties: false"', ['schema']);
  }
  const fieldTypes: Record<string, FieldType> = {};
  for (const [name, prop] of Object.entries(schema.properties as Record<string, { type?: unknown }>)) {
    const t = SCHEMA_TYPES[String(prop.type)];
    if (!t) fail(`/schema/properties/${name}/type`, 'must be one of number, integer, string, boolean (InfluxDB fields are scalar)', ['schema', 'properties', name]);
    if (!FIELD_NAME.test(name)) fail(`/schema/properties/${name}`, 'field names are lower-case snake_case', ['schema', 'properties', name]);
    if (Object.hasOwn(RESERVED_FIELDS, name)) fail(`/schema/properties/${name}`, `field name "${name}" ${RESERVED_FIELDS[name]}`, ['schema', 'properties', name]);
    fieldTypes[name] = t;
  }
  for (const [i, f] of (raw.personalFields ?? []).entries()) {
    if (fieldTypes[f] !== 'string') fail(`/personalFields/${i}`, `"${f}" is not a string property of the schema`, ['personalFields', i]);
  }
  let validate: ValidateFunction;
  try {
    // Unknown fields are judged by ingest (unknownFields) unless the entry rejects them.
    validate = ajv.compile(raw.unknownFields === 'reject' ? schema : { ...schema, additionalProperties: true });
  } catch (e) {
    fail('/schema', `invalid JSON Schema: ${(e as Error).message}`, ['schema']);
  }
  const entry: CatalogueEntry = { ...raw, file: yaml.file, updateCycleMs: parseDuration(raw.updateCycle), fieldTypes, validate: validate! };
  origins.set(entry, { index, yaml });
  return entry;
}

/**
 * Throws ConfigError when `next` gives a field of a measurement of `running` another InfluxDB
 * type: InfluxDB keeps a field's first type in a shard and would refuse every later point
 * (`storage_rejected`). Names the file, the entry's path and the field. Fields added or removed
 * are fine; a field removed and re-added with another type in a later reload is not seen here.
 */
export function checkFieldTypesKept(running: Catalogue, next: Catalogue): void {
  const before = new Map(running.entries.map((e) => [e.measurement, e.fieldTypes]));
  for (const e of next.entries) {
    const old = before.get(e.measurement);
    if (!old) continue;
    for (const [field, type] of Object.entries(e.fieldTypes)) {
      const was = old[field];
      if (!was || was === type) continue;
      const o = origins.get(e);
      throw new ConfigError(
        e.file,
        `/entries/${o?.index ?? '?'}/schema/properties/${field}/type`,
        `field "${field}" of measurement ${e.measurement} changes type from ${was} to ${type}: InfluxDB keeps a field's type and would refuse every later point (use a new field name)`,
        o?.yaml.lineOf(['entries', o.index, 'schema', 'properties', field, 'type']),
      );
    }
  }
}

/**
 * Loads the catalogue and its supplements, validates them and compiles every entry's schema.
 * Throws ConfigError naming the file, the path and the problem; never returns a partial catalogue.
 */
export function loadCatalogue(file: string): Catalogue {
  const path = resolve(file);
  const yaml = readYamlFile(path);
  const raw = validateYaml<RawCatalogue>(yaml, validateCatalogue);
  const dataAjv = makeAjv();
  const divisions = new Map<string, Division>();
  const entries: CatalogueEntry[] = [];
  const byType = new Map<string, CatalogueEntry>();
  const byCode = new Map<string, CatalogueEntry>();

  const addAll = (src: YamlFile, divs: Division[], list: RawCatalogueEntry[]) => {
    for (const [i, d] of divs.entries()) {
      const prev = divisions.get(d.code);
      if (prev && prev.name !== d.name) {
        throw new ConfigError(src.file, `/divisions/${i}`, `division ${d.code} is already named "${prev.name}"`, src.lineOf(['divisions', i]));
      }
      divisions.set(d.code, d);
    }
    for (const [i, r] of list.entries()) {
      const entry = compileEntry(src, i, r, dataAjv);
      const key = `${entry.sector}/${entry.messageType}`;
      const clash = byCode.get(entry.code) ?? byType.get(key);
      if (clash) {
        const what = byCode.has(entry.code) ? `code ${entry.code}` : `message type ${key}`;
        throw new ConfigError(src.file, `/entries/${i}`, `${what} is already defined in ${clash.file}`, src.lineOf(['entries', i]));
      }
      const m = entries.find((e) => e.measurement === entry.measurement);
      if (m) throw new ConfigError(src.file, `/entries/${i}/measurement`, `measurement ${entry.measurement} is already used by ${m.code}`, src.lineOf(['entries', i, 'measurement']));
      entries.push(entry);
      byType.set(key, entry);
      byCode.set(entry.code, entry);
    }
  };

  addAll(yaml, raw.divisions, raw.entries);
  for (const sup of raw.supplements) {
    const supYaml = readYamlFile(resolve(dirname(path), sup));
    const s = validateYaml<RawSupplement>(supYaml, validateSupplement);
    addAll(supYaml, s.divisions ?? [], s.entries);
  }
  return { version: raw.version, file: path, divisions, entries, byType, sectors: new Set(entries.map((e) => e.sector)) };
}
