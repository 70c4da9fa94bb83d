import { Point } from '@influxdata/influxdb-client';
import type { Reading } from '../../core/types.js';

/**
 * Line protocol of a Reading, encoded (and escaped) by the InfluxDB client's Point, with each
 * field written as the type the catalogue fixed for it.
 */
export function toLine(r: Reading): string {
  const p = new Point(r.measurement);
  for (const [k, v] of Object.entries(r.tags)) p.tag(k, v);
  for (const [k, f] of Object.entries(r.fields)) {
    switch (f.type) {
      case 'float':
        p.floatField(k, f.value);
        break;
      case 'integer':
        p.intField(k, f.value);
        break;
      case 'string':
        p.stringField(k, f.value);
        break;
      case 'boolean':
        p.booleanField(k, f.value);
        break;
    }
  }
  p.timestamp(r.timeNs);
  return p.toLineProtocol()!;
}
