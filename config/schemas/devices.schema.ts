/** JSON Schema of the device registry: a YAML list of devices. */
export const devicesSchema = {
  $id: 'jl:devices',
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['id', 'sector', 'region', 'types'],
    properties: {
      id: { type: 'string', pattern: '^[^\\s/+#\\u0000-\\u001f\\u007f]{0,63}[^\\s/+#\\u0000-\\u001f\\u007f\\\\]$', description: 'Device id as it appears in the topic.' },
      sector: { enum: ['agri', 'v2x', 'energy', 'iiot'] },
      region: { type: 'string', pattern: '^22[0-9]{4}$' },
      types: { type: 'array', minItems: 1, items: { type: 'string' }, uniqueItems: true },
      key: { type: 'string', pattern: '^([0-9a-fA-F]{2}){16,64}$', description: 'HMAC-SHA256 key (hex); messages must then be signed.' },
      criticalInfrastructure: { type: 'boolean', default: false },
    },
  },
} as const;
