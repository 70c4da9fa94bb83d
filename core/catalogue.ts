/**
 * The provincial data catalogue as the stages see it (SPEC 3): resources, their data grades and
 * divisions. Loaded and validated by `config/catalogue.ts`; no I/O here.
 */
import type { ValidateFunction } from 'ajv';
import type { FromSchema } from 'json-schema-to-ts';
import type { Registry } from './device.js';
import { SECTOR_NAME } from './types.js';

export type FieldType = 'float' | 'integer' | 'string' | 'boolean';

/** JSON Schema of a division of the catalogue (composed into config/schemas/catalogue.schema.ts). */
export const divisionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['code', 'name'],
  properties: {
    code: { type: 'string', pattern: '^22[0-9]{4}$', description: 'Jilin division code (province 220000).' },
    name: { type: 'string', minLength: 1 },
    parent: { type: 'string', pattern: '^22[0-9]{4}$' },
  },
} as const;

/** JSON Schema of one catalogue entry (SPEC 3); `catalogueSchema.$defs.entry`. */
export const catalogueEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['code', 'name', 'summary', 'sector', 'messageType', 'provider', 'providerCode', 'schema', 'measurement', 'share', 'open', 'grade', 'updateCycle'],
  properties: {
    code: { type: 'string', pattern: '^[A-Z]{2}-[A-Z]{2}-[0-9]{4}-[0-9]{3}$', description: 'Resource code: unique and stable.' },
    name: { type: 'string', minLength: 1 },
    alias: { type: 'string' },
    summary: { type: 'string', minLength: 1 },
    sector: { type: 'string', pattern: SECTOR_NAME, description: 'The sector: every sector the pipeline knows is one that a catalogue entry names.' },
    messageType: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,31}$' },
    provider: { type: 'string', minLength: 1 },
    providerCode: { type: 'string', minLength: 1 },
    schema: { type: 'object', description: 'JSON Schema of the message `data`.' },
    measurement: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' },
    share: { enum: ['unconditional', 'conditional', 'none'] },
    open: { enum: ['open', 'conditional', 'closed'] },
    grade: { enum: ['general', 'important', 'core'] },
    updateCycle: { type: 'string', pattern: '^[0-9]+(ms|s|m|h|d)$' },
    personalFields: { type: 'array', items: { type: 'string' }, default: [] },
    cardinalityBudget: { type: 'integer', minimum: 1, default: 10000 },
    unknownFields: {
      enum: ['store', 'drop', 'reject'],
      default: 'drop',
      description: 'Data fields the schema does not name (a firmware update adding one): drop them and store the rest, store them too (numbers as float), or reject the message. Unknown names are reported once per device.',
    },
  },
} as const;

/** What a data field name looks like: the catalogue's schemas use only such names, and ingest refuses others. */
export const FIELD_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** Field names a catalogue schema may not use, and why. */
export const RESERVED_FIELDS: Record<string, string> = {
  time: 'is reserved: InfluxDB drops a field named "time" without an error',
  seq: 'is reserved: every point stores the envelope\'s "seq" under that name',
};


export type Division = FromSchema<typeof divisionSchema>;
/** A catalogue entry as written in the file, defaults filled. */
export type RawCatalogueEntry = FromSchema<typeof catalogueEntrySchema>;

export type Grade = RawCatalogueEntry['grade'];
/** Order of the data grades (GB/T 43697-2024): core > important > general. */
export const GRADE_RANK: Record<Grade, number> = { general: 0, important: 1, core: 2 };
/** The higher of two grades: derived data keeps the grade of its most sensitive input. */
export const higherGrade = (a: Grade, b: Grade): Grade => (GRADE_RANK[b] > GRADE_RANK[a] ? b : a);
export type Share = RawCatalogueEntry['share'];

/** One data resource of the catalogue (SPEC 3), with what loading compiled from it. */
export type CatalogueEntry = RawCatalogueEntry & {
  /** Where the entry came from (provincial file or a supplement). */
  file: string;
  updateCycleMs: number;
  /** InfluxDB field type of each property, fixed by the schema so a field never changes type. */
  fieldTypes: Record<string, FieldType>;
  validate: ValidateFunction;
};

export interface Catalogue {
  version: string;
  file: string;
  divisions: Map<string, Division>;
  entries: CatalogueEntry[];
  /** The sectors the entries name: the only ones the pipeline knows. */
  sectors: Set<string>;
  /** Entry by `sector/messageType`. */
  byType: Map<string, CatalogueEntry>;
}


/** The catalogue and registry in force; read them on each use, since a reload swaps them. */
export interface CatalogueView {
  catalogue(): Catalogue;
  registry(): Registry;
}
