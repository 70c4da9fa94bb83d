import type { Detector, DetectInput, Emit } from '../../../core/anomaly.js';
import type { Rejection } from '../../../core/types.js';
import { RowsByMeasurement } from '../rows.js';
import { anomalyOf, anomalyOfRejection, isNum, type Check, type DetectorContext } from '../state.js';
import type { ReplayConfig } from './config.js';

/**
 * Replay / sequence: a `seq` that repeats or goes back together with an event time that does
 * not move forward is a replayed message (a broker redelivery, flagged DUP, is not); a seq that
 * goes back with a newer time is a device restart and only resets the state. Readings older
 * than `staleMs` behind the watermark and timestamps in the future (refused by ingest) are
 * replay signals too. Sees late readings: that is where replays show up.
 */
export function replayDetector(cfg: ReplayConfig, ctx: DetectorContext): Detector & { lateToo: true } {
  // [seq, t] of the newest accepted reading: a row of two numbers per device (rows.ts), under
  // the measurement '' (replay is per device). Snapshots keep the JSON form `{seq, t}`; JSON has
  // no -Infinity (no reading accepted yet): it is stored as null.
  const rows = new RowsByMeasurement((m) => (m === '' ? 2 : 0), (n) => new Float64Array(n));
  const last = rows.of('')!;
  const decode: Check<number[]> = (j, k) => {
    const { seq, t } = (j ?? {}) as { seq?: unknown; t?: unknown };
    const s = isNum(seq, k);
    const at = t === null ? -Infinity : isNum(t, k);
    return s === undefined || at === undefined ? undefined : [s, at];
  };
  return {
    name: 'replay',
    lateToo: true,
    reading(i: DetectInput, emit: Emit) {
      const r = i.reading;
      const row = last.row(i.slot, r.eventMs, (d, o) => {
        d[o] = -1;
        d[o + 1] = -Infinity;
      });
      const d = last.chunk(row);
      const o = last.offset(row);
      if (r.seq <= d[o] && r.eventMs <= d[o + 1]) {
        // Seen now (at the watermark), whatever old time the replayed message claims.
        if (!r.dup) emit(anomalyOf(i, { detector: 'replay', kind: 'replay', category: 'network-attack', eventMs: Math.max(i.watermark, r.eventMs), value: r.seq, detail: `seq ${r.seq} (ts ${new Date(r.eventMs).toISOString()}) after seq ${d[o]}: replayed message` }));
      } else if (i.watermark - r.eventMs > cfg.staleMs) {
        emit(anomalyOf(i, { detector: 'replay', kind: 'replay', category: 'network-attack', eventMs: i.watermark, value: r.seq, detail: `reading ${Math.round((i.watermark - r.eventMs) / 60000)} min older than the newest data: stale or replayed` }));
      } else {
        d[o] = r.seq;
        d[o + 1] = Math.max(d[o + 1], r.eventMs);
      }
    },
    rejection(r: Rejection, emit: Emit) {
      if (r.signal?.kind !== 'future_ts') return;
      const a = anomalyOfRejection(ctx, r, { detector: 'replay', kind: 'future_ts', category: 'network-attack', detail: `timestamp ${new Date(r.signal.eventMs).toISOString()} is in the future: ${r.detail}` });
      if (a) emit(a);
    },
    expire: (before) => rows.expire(before),
    size: () => last.size,
    snapshot: (_device, slot) => rows.snapshot(slot, ([seq, t]) => ({ seq, t: Number.isFinite(t) ? t : null })),
    restore: (_device, snap, slot) => rows.restore(slot, snap, decode),
  };
}
