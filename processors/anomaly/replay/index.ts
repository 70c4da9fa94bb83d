import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import type { Rejection } from '../../../core/types.js';
import { anomalyOf, anomalyOfRejection, ExpiringState, isNum, perDevice, type Check, type DetectorContext } from '../state.js';
import type { ReplayConfig } from './config.js';

/**
 * Replay / sequence: a `seq` that repeats or goes back together with an event time that does
 * not move forward is a replayed message (a broker redelivery, flagged DUP, is not); a seq that
 * goes back with a newer time is a device restart and only resets the state. Readings older
 * than `staleMs` behind the watermark and timestamps in the future (refused by ingest) are
 * replay signals too. Sees late readings: that is where replays show up.
 */
export function replayDetector(cfg: ReplayConfig, ctx: DetectorContext): Detector & { lateToo: true } {
  const last = new ExpiringState<{ seq: number; t: number }>();
  // JSON has no -Infinity (no reading accepted yet): it is stored as null.
  const check: Check<{ seq: number; t: number }> = (j, k) => {
    const { seq, t } = (j ?? {}) as { seq?: unknown; t?: unknown };
    const s = isNum(seq, k);
    const at = t === null ? -Infinity : isNum(t, k);
    return s === undefined || at === undefined ? undefined : { seq: s, t: at };
  };
  return {
    name: 'replay',
    lateToo: true,
    reading(i: DetectInput, emit: Emit) {
      const r = i.reading;
      const s = last.get(i.device.id, r.eventMs, () => ({ seq: -1, t: -Infinity }));
      if (r.seq <= s.seq && r.eventMs <= s.t) {
        // Seen now (at the watermark), whatever old time the replayed message claims.
        if (!r.dup) emit(anomalyOf(i, { detector: 'replay', kind: 'replay', category: 'network-attack', eventMs: Math.max(i.watermark, r.eventMs), value: r.seq, detail: `seq ${r.seq} (ts ${new Date(r.eventMs).toISOString()}) after seq ${s.seq}: replayed message` }));
      } else if (i.watermark - r.eventMs > cfg.staleMs) {
        emit(anomalyOf(i, { detector: 'replay', kind: 'replay', category: 'network-attack', eventMs: i.watermark, value: r.seq, detail: `reading ${Math.round((i.watermark - r.eventMs) / 60000)} min older than the newest data: stale or replayed` }));
      } else {
        s.seq = r.seq;
        s.t = Math.max(s.t, r.eventMs);
      }
    },
    rejection(r: Rejection, emit: Emit) {
      if (r.signal?.kind !== 'future_ts') return;
      const a = anomalyOfRejection(ctx, r, { detector: 'replay', kind: 'future_ts', category: 'network-attack', detail: `timestamp ${new Date(r.signal.eventMs).toISOString()} is in the future: ${r.detail}` });
      if (a) emit(a);
    },
    expire: (before) => last.expire(before),
    size: () => last.size,
    ...perDevice(last, check, (s) => ({ seq: s.seq, t: Number.isFinite(s.t) ? s.t : null })),
  };
}
