import type { Detector, Emit } from '../../../core/anomaly.js';
import type { Rejection } from '../../../core/types.js';
import { anomalyOfRejection, type DetectorContext } from '../state.js';
import type { ForgeryConfig } from './config.js';

const KINDS = { bad_signature: 'bad_signature', unknown_device: 'unknown_device', device_mismatch: 'foreign_device' } as const;

/**
 * Forgery / spoofing, from what ingest refused: a keyed device's message with a missing or wrong
 * signature, a message from an unregistered device, or a registered device on a sector, region
 * or message type that is not its own. Stateless.
 */
export function forgeryDetector(_cfg: ForgeryConfig, ctx: DetectorContext): Detector {
  return {
    name: 'forgery',
    rejection(r: Rejection, emit: Emit) {
      const kind = KINDS[r.reason as keyof typeof KINDS];
      if (!kind) return;
      const a = anomalyOfRejection(ctx, r, { detector: 'forgery', kind, category: 'network-attack', detail: r.detail });
      if (a) emit(a);
    },
    expire: () => {},
    size: () => 0,
  };
}
