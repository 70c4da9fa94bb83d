import type { Logger } from 'pino';
import type { Stage } from '../core/runtime/runtime.js';
import type { Outcome } from '../core/types.js';

/** Field names remembered per device: a device inventing names without end cannot grow this. */
const MAX_NAMES_PER_DEVICE = 32;

/**
 * Tells the operator once per device about data fields its catalogue entry does not name (a
 * firmware update adding `battery`): the message itself was stored, with the unknown fields
 * dropped or stored as the entry's `unknownFields` says, and counted here. A device that later
 * sends another new name is reported again, for that name.
 */
export class UnknownFieldsReport implements Stage {
  readonly name = 'unknown-fields';
  /** Messages that carried a field their entry does not name. */
  messages = 0;
  private readonly seen = new Map<string, Set<string>>();

  constructor(private readonly log?: Logger) {}

  observe(o: Outcome): void {
    if (!o.ok || !o.reading.unknownFields) return;
    this.messages++;
    const r = o.reading;
    let names = this.seen.get(r.device);
    if (!names) this.seen.set(r.device, (names = new Set()));
    const fresh = r.unknownFields!.filter((f) => !names.has(f));
    if (!fresh.length || names.size >= MAX_NAMES_PER_DEVICE) return;
    for (const f of fresh) names.add(f);
    this.log?.warn({ device: r.device, measurement: r.measurement, fields: fresh }, 'device sends data fields its catalogue entry does not name: the reading is stored, these fields are dropped or stored as the entry\'s unknownFields says (reported once per device)');
  }

  /** Devices that sent unknown fields, with the names. */
  devices(): Record<string, string[]> {
    return Object.fromEntries([...this.seen].map(([d, s]) => [d, [...s]]));
  }
}
