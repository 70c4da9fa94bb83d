/** JSON Schema of the catalogue file (SPEC 3). Entry `schema`s are compiled separately. */
export const catalogueSchema = {
  $id: 'jl:catalogue',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'divisions', 'entries'],
  properties: {
    version: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z._-]+$', description: 'Catalogue version; stamped on every stored point.' },
    publisher: { type: 'string' },
    divisions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'name'],
        properties: {
          code: { type: 'string', pattern: '^22[0-9]{4}$', description: 'Jilin division code (province 220000).' },
          name: { type: 'string', minLength: 1 },
          parent: { type: 'string', pattern: '^22[0-9]{4}$' },
        },
      },
    },
    supplements: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    entries: { type: 'array', items: { $ref: '#/$defs/entry' } },
  },
  $defs: {
    entry: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'name', 'summary', 'sector', 'messageType', 'provider', 'providerCode', 'schema', 'measurement', 'share', 'open', 'grade', 'updateCycle'],
      properties: {
        code: { type: 'string', pattern: '^[A-Z]{2}-[A-Z]{2}-[0-9]{4}-[0-9]{3}$', description: 'Resource code: unique and stable.' },
        name: { type: 'string', minLength: 1 },
        alias: { type: 'string' },
        summary: { type: 'string', minLength: 1 },
        sector: { enum: ['agri', 'v2x', 'energy', 'iiot'] },
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
      },
    },
  },
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
