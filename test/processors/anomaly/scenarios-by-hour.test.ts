import { describe, expect, it } from 'vitest';
import { buildScenarioRun, catalogueCadence } from '../../../ingest/simulator/scenarios.js';
import { validateAndTag } from '../../../processors/validate-and-tag.js';
import { Harness } from './harness.js';

// The integration test runs the labelled scenarios at the wall-clock time of the run, so the
// hour of day differs from run to run; the daily view and the device's local time must not
// change whether, or as what, an event is raised. Here every scenario runs ending at each hour
// of one day, through the real ingest stage and engine (no broker: 24 runs).
describe('labelled scenarios at every hour of the day', () => {
  const PROCESSORS_WITH_DEVICE_STATE = new Set(['spike', 'rate', 'flatline', 'range', 'energy']);

  it('raises every scenario as its own kind, and nothing on the other devices', () => {
    const misses: string[] = [];
    const falsePositives: string[] = [];
    for (let hour = 0; hour < 24; hour++) {
      const endMs = Date.UTC(2026, 0, 5, hour, 17);
      const h = new Harness(undefined, endMs);
      const run = buildScenarioRun(h.fleet, ['all'], { seed: 7, endMs, cadence: catalogueCadence(h.ctx.catalogue()) });
      for (const m of run.messages) {
        h.clock = Math.max(h.clock, endMs - 120 * 60_000);
        h.engine.observe(validateAndTag(h.ctx, { topic: m.topic, payload: Buffer.from(m.payload), receivedAt: endMs }, endMs + 1000));
      }
      h.clock = endMs + 60_000;
      h.engine.tick();
      const at = `${String(hour).padStart(2, '0')}:17`;
      for (const s of run.truth.scenarios) {
        const raised = h.anomalies.some((a) => `${a.detector}.${a.kind}` === s.kind && (a.device === undefined || s.devices.includes(a.device)));
        if (!raised) misses.push(`${at} ${s.scenario} (${s.kind}): raised ${h.anomalies.filter((a) => a.device !== undefined && s.devices.includes(a.device)).map((a) => `${a.detector}.${a.kind}`).join(', ') || 'nothing'}`);
      }
      const involved = new Set(run.truth.scenarios.flatMap((s) => s.devices));
      for (const a of h.anomalies) if (a.device !== undefined && !involved.has(a.device) && PROCESSORS_WITH_DEVICE_STATE.has(a.detector)) falsePositives.push(`${at} ${a.device} ${a.detector}.${a.kind}: ${a.detail}`);
    }
    expect(misses).toEqual([]);
    expect(falsePositives).toEqual([]);
  }, 120_000);
});
