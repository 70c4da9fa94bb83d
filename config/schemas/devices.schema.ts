import { deviceSchema } from '../../core/device.js';

/** JSON Schema of the device registry: a YAML list of devices. */
export const devicesSchema = {
  $id: 'jl:devices',
  type: 'array',
  items: deviceSchema,
} as const;
