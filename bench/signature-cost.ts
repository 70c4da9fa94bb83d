import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfigFile, loadPipelineConfig } from '../app/config.js';
import { loadCatalogue } from '../config/catalogue.js';
import { loadRegistry } from '../config/devices.js';
import { sign, signV2 } from '../core/signature.js';
import type { RawMessage } from '../core/types.js';
import { validateAndTag, type TagContext } from '../processors/validate-and-tag.js';

export interface SignatureCost {
  /** When measured (with `--signatures-only`, later than the rest of the file). */
  date: string;
  messages: number;
  /** CPU time of validating and tagging one signed meter message, µs (best of the rounds). */
  v1Us: number;
  v2Us: number;
  unsignedUs: number;
}

const KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

/**
 * The per-message CPU cost of ingest (validate and tag) for a keyed meter signing with wire
 * contract v1 (canonical JSON) and v2 (the bytes as sent), and for an unkeyed meter, measured in
 * one process, one after the other, on the same payloads (issue 13). Best of `rounds`, each over
 * `messages` messages: the signature is the only difference.
 */
export function signatureCost(dir: string, messages = 50_000, rounds = 5): SignatureCost {
  const catalogue = loadCatalogue(loadPipelineConfig(defaultConfigFile(), {}).catalogue);
  const file = join(dir, 'signature-devices.yaml');
  writeFileSync(
    file,
    ['v1', 'v2', 'plain']
      .map((s) => `- { id: meter-${s}, sector: energy, region: "220100", types: [meter]${s === 'plain' ? '' : `, key: "${KEY}", sigScheme: ${s}`} }`)
      .join('\n') + '\n',
  );
  const registry = loadRegistry(file, catalogue);
  const ctx: TagContext = { catalogue: () => catalogue, registry: () => registry, pseudonymKey: Buffer.alloc(32, 7), maxPayloadBytes: 65536, futureToleranceMs: 300_000 };
  const key = Buffer.from(KEY, 'hex');
  const start = Date.now() - 3_600_000;
  const make = (scheme: 'v1' | 'v2' | 'plain'): RawMessage[] =>
    Array.from({ length: messages }, (_, i) => {
      const topic = `jl/energy/220100/meter-${scheme}/meter`;
      const payload: Record<string, unknown> = { ts: start + i, seq: i + 1, data: { voltage_a: 220 + (i % 7) / 10, voltage_b: 221.5, voltage_c: 219.8, current_a: 10.25, current_b: 9.75, current_c: 10.5, active_power: 6.8, power_factor: 0.95, frequency: 49.98, energy_total: 10_000 + i } };
      if (scheme === 'v1') payload.sig = sign(key, topic, payload);
      const body = JSON.stringify(payload);
      return { topic, payload: Buffer.from(body), receivedAt: Date.now(), ...(scheme === 'v2' ? { sig: signV2(key, topic, body) } : {}) };
    });
  const sets = { v1: make('v1'), v2: make('v2'), plain: make('plain') };
  const best = { v1: Infinity, v2: Infinity, plain: Infinity };
  for (let r = 0; r < rounds; r++) {
    for (const scheme of ['v1', 'v2', 'plain'] as const) {
      const t0 = process.cpuUsage();
      for (const m of sets[scheme]) {
        const out = validateAndTag(ctx, m);
        if (!out.ok) throw new Error(`${scheme}: ${out.rejection.reason} ${out.rejection.detail}`);
      }
      const used = process.cpuUsage(t0);
      best[scheme] = Math.min(best[scheme], (used.user + used.system) / messages);
    }
  }
  const us = (x: number) => Math.round(x * 100) / 100;
  return { date: new Date().toISOString(), messages, v1Us: us(best.v1), v2Us: us(best.v2), unsignedUs: us(best.plain) };
}
