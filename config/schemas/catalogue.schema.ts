import { catalogueEntrySchema, divisionSchema } from '../../core/catalogue.js';

/** JSON Schema of the catalogue file (SPEC 3). Entry `schema`s are compiled separately. */
export const catalogueSchema = {
  $id: 'jl:catalogue',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'divisions', 'entries'],
  properties: {
    version: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z._-]+$', description: 'Catalogue version; stamped on every stored point.' },
    publisher: { type: 'string' },
    divisions: { type: 'array', items: divisionSchema },
    supplements: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    entries: { type: 'array', items: { $ref: '#/$defs/entry' } },
  },
  $defs: { entry: catalogueEntrySchema },
} as const;

/** A supplementary catalogue (city or county): entries and divisions only. */
export const supplementSchema = {
  $id: 'jl:catalogue-supplement',
  type: 'object',
  additionalProperties: false,
  required: ['entries'],
  properties: {
    publisher: { type: 'string' },
    divisions: catalogueSchema.properties.divisions,
    entries: { type: 'array', items: { $ref: 'jl:catalogue#/$defs/entry' } },
  },
} as const;
