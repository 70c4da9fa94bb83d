import { loadCatalogue } from '../config/catalogue.js';
import type { Device, Registry } from '../config/devices.js';
import { defaultConfigFile, loadPipelineConfig } from '../app/config.js';
import { makeFleet } from '../ingest/simulator/fleet.js';
import { MessageFactory } from '../ingest/simulator/simulator.js';
import { DetectionEngine } from '../processors/anomaly/engine.js';
import { validateAndTag } from '../processors/validate-and-tag.js';

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const mb = (b: number) => Math.round(b / 2 ** 20);

/**
 * Memory of the anomaly processors' state for `devices` devices (SPEC 11: 100,000 devices of
 * state in under 500 MB): every device sends `rounds` messages of each of its types through
 * ingest and every processor. The state's size is what the engine retains: the heap and the
 * typed arrays' buffers (the scoring core's state is one) with the engine, less the same once it
 * is dropped (with GC). A heap taken before the run is no baseline: it also held about 130 MB
 * the run lets go of, which once made this figure 100 MB too small, and buffers were not counted.
 */
export function detectionMemory(devices = 100_000, rounds = 3): { devices: number; messages: number; stateMb: number; bytesPerDevice: number; rssMb: number; devicesWithState: number } {
  const config = loadPipelineConfig(defaultConfigFile(), {});
  const catalogue = loadCatalogue(config.catalogue);
  const fleet = makeFleet(devices, 'memory');
  const registry: Registry = new Map(fleet.map((d): [string, Device] => [d.id, { id: d.id, sector: d.sector, region: d.region, types: d.types, key: d.key ? Buffer.from(d.key, 'hex') : undefined, criticalInfrastructure: d.kind === 'meter' }]));
  const ctx = { catalogue: () => catalogue, registry: () => registry, pseudonymKey: Buffer.alloc(32, 3), maxPayloadBytes: 65536, futureToleranceMs: 300_000 };
  let anomalies = 0;
  // The simulator's own per-device state is created before measuring, so it does not count.
  const factory = new MessageFactory(fleet, 5);
  for (const d of fleet) for (const type of d.types) factory.make(d, type, Date.now() - 7_200_000);
  // Held through a box, so it can be let go of before the second measurement.
  const box: { engine?: DetectionEngine } = { engine: new DetectionEngine(config.detection, { catalogue: () => catalogue, registry: () => registry }, () => anomalies++) };
  const start = Date.now() - 3_600_000;
  let messages = 0;
  for (let r = 0; r < rounds; r++) {
    for (const d of fleet) {
      for (const type of d.types) {
        const t = start + r * 60_000;
        const m = factory.make(d, type, t);
        box.engine!.observe(validateAndTag(ctx, { topic: m.topic, payload: Buffer.from(JSON.stringify(m.payload)), receivedAt: t }, t + 1000));
        messages++;
      }
    }
  }
  const held = () => {
    // Buffers of collected typed arrays are freed by the collection after the one that found them.
    for (let i = 0; i < 3; i++) gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const s = box.engine!.stats();
  const rss = process.memoryUsage().rss;
  const withEngine = held();
  delete box.engine;
  const state = withEngine - held();
  return { devices: fleet.length, messages, stateMb: mb(state), bytesPerDevice: Math.round(state / fleet.length), rssMb: mb(rss), devicesWithState: s.devices };
}
