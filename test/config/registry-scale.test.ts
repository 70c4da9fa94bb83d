import { appendFileSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Pipeline } from '../../app/pipeline.js';
import { defaultConfigFile, loadPipelineConfig } from '../../app/config.js';
import { loadCatalogue } from '../../config/catalogue.js';
import { loadRegistry, type Registry } from '../../config/devices.js';
import { ConfigError } from '../../core/errors.js';
import { testConfig, testLogger, waitUntil } from '../helpers/pipeline.js';
import { tempDir, useServices } from '../helpers/services.js';

// Security review (issue 10), row 10: reloading a 201,005-device registry blocked the event
// loop for about 33 s (the `yaml` library's document model, ~100 µs a line). The registry's
// one-line form is now read without it, and a reload parses only the lines that changed.

const catalogue = loadCatalogue(loadPipelineConfig(defaultConfigFile(), {}).catalogue);
const REGIONS = ['220100', '220200', '220300', '220400', '220500', '220600', '220700', '220800', '222400'];

/** A registry of n devices in the shipped registry's form; every tenth keyed. */
function registryText(n: number, prefix = 'dev'): string {
  const out = ['# generated registry'];
  for (let i = 0; i < n; i++) {
    const r = REGIONS[i % REGIONS.length];
    const id = `${prefix}-${r}-${String(i).padStart(6, '0')}`;
    out.push(i % 10 === 0 ? `- { id: ${id}, sector: v2x, region: "${r}", types: [ rsu_status, bsm ], key: c${(i % 256).toString(16).padStart(2, '0').repeat(31)}d }` : `- { id: ${id}, sector: agri, region: "${r}", types: [ soil ] }`);
  }
  return out.join('\n') + '\n';
}

/** What loading `text` gives: the registry, or the error's path, problem and line. */
function outcome(text: string, dir = tempDir()): Registry | { path: string; problem: string; line?: number } {
  const file = join(dir, 'devices.yaml');
  writeFileSync(file, text);
  try {
    return loadRegistry(file, catalogue);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { path: e.path, problem: e.problem, line: e.line };
  }
}

describe('device registry at scale', () => {
  it('reads one-line entries as the YAML library does, values and errors alike', () => {
    const cases = [
      '- { id: a, sector: agri, region: "220100", types: [ soil ] }\n',
      "# c\n\n- {id: a,   sector: 'agri', region: '220100', types: [soil, weather]}   # note\n- { id: b2, sector: v2x, region: \"220100\", types: [ bsm ], criticalInfrastructure: true }\n",
      '- { id: a, sector: agri, region: "220100", types: [ soil ] }\r\n- { id: b, sector: agri, region: "220100", types: [ soil ] }\r\n',
      '- { id: a, sector: agri, region: 220100, types: [ soil ] }\n', // a number: must be a string
      '- { id: 1e5, sector: agri, region: "220100", types: [ soil ] }\n', // a float to YAML
      '- { id: null, sector: agri, region: "220100", types: [ soil ] }\n',
      '- { id: True, sector: agri, region: "220100", types: [ soil ] }\n',
      '- { id: a, sector: agri, region: "220100", types: [ soil ], criticalInfrastructure: yes }\n', // a string in YAML 1.2
      '- { id: a, id: b, sector: agri, region: "220100", types: [ soil ] }\n', // duplicate key
      '- { id: "a\\u0041", sector: agri, region: "220100", types: [ soil ] }\n', // escapes
      '- { id: a, sector: agri, region: "220100", types: [ soil ], }\n',
      '- { id: a, sector: agri, region: "220100", types: [ soil ] }\n- id: b\n  sector: agri\n  region: "220100"\n  types: [ soil ]\n', // block form
      '- { id: a, sector: agri, region: "220100", types: [ soil ] }\n- { id: a, sector: agri, region: "220100", types: [ soil ] }\n', // duplicate device
      '- { id: a, sector: agri, region: "220100", types: [ soil ] }\n- { id: b, sector: agri, region: "229999", types: [ soil ] }\n',
      '- { id: a, sector: agri, region: "220100", types: [ soil ] }\n\n# x\n- { id: b, sector: agri, region: "220100", types: [ ozone ] }\n',
      '- { id: a, sector: agri, region: "220100" }\n',
      '- { id: a, sector: agri, region: "220100", types: [ soil ], key: abcd }\n',
      '- { id: a, sector: agri, region: "220100", types: [] }\n',
      '- { id: a b, sector: agri, region: "220100", types: [ soil ] }\n',
      '- { id: a, sector: agri, region: "220100", types: [ soil ] }}\n',
      '- { id: a, sector: agri, region: "220100", types: [ soil ] }#x\n',
      "- { id: 'it''s', sector: agri, region: '220100', types: [ soil ] }\n",
      '- { id: "长春-1", sector: agri, region: "220100", types: [ "soil" ] }\n',
      '- {}\n',
      '- { __proto__: x, id: a, sector: agri, region: "220100", types: [ soil ] }\n',
      '- { id: ~, sector: agri, region: "220100", types: [ soil ] }\n',
      '- { id: a,\tsector: agri, region: "220100", types: [ soil ] }\n',
      '- { id: 0x1F, sector: agri, region: "220100", types: [ soil ] }\n',
      '- { id: a-b_c.d, sector: agri, region: "220100", types: [ soil, soil ] }\n',
      '- { id: a, sector: agri, region: "220100", types: [ soil ], key: 12e45678901234567890123456789012 }\n',
      '  - { id: a, sector: agri, region: "220100", types: [ soil ] }\n',
    ];
    for (const text of cases) {
      // A document start marker keeps the fast path out: the YAML library reads the same list.
      const want = outcome('---\n' + text);
      const shifted = (w: { path: string; problem: string; line?: number }) => ({ ...w, line: w.line && w.line - 1, problem: w.problem.replace(/at line (\d+)/, (_, n: string) => `at line ${Number(n) - 1}`) });
      expect(outcome(text), text).toEqual(want instanceof Map ? want : shifted(want));
    }
  });

  it('a reload after edits gives what a first load gives', () => {
    const dir = tempDir();
    const file = join(dir, 'devices.yaml');
    let text = registryText(3000);
    writeFileSync(file, text);
    loadRegistry(file, catalogue);
    const edits: ((t: string) => string)[] = [
      (t) => t + '- { id: extra-1, sector: agri, region: "220100", types: [ soil ] }\n',
      (t) => t.replace('dev-220100-000009,', 'dev-220100-000009x,'),
      (t) => t.replace(/^.*dev-220300-000020.*\n/m, ''),
      (t) => t.replace(/^(.*dev-220100-001000.*\n)/m, '$1- { id: inserted, sector: agri, region: "220200", types: [ weather ] }\n'),
      (t) => t.replace('types: [ soil ] }\n', 'types: [ soil ] } # first\n'),
      (t) => t.replace(/\n/g, '\r\n'),
      (t) => t.replace(/\r\n/g, '\n').replace('dev-220100-000000', 'dev-220100-000001'), // a duplicate now
      (t) => t.replace('dev-220100-000001, sector: v2x', 'dev-220100-000000, sector: v2x'),
      (t) => t.replace(/(dev-2202\d\d-0001\d\d, sector: agri, region: "220200")/g, '$1, criticalInfrastructure: true'),
      (t) => t.slice(0, t.length / 2).replace(/[^\n]*$/, ''),
    ];
    for (const edit of edits) {
      text = edit(text);
      writeFileSync(file, text);
      let got: ReturnType<typeof outcome>;
      try {
        got = loadRegistry(file, catalogue);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        got = { path: e.path, problem: e.problem, line: e.line };
      }
      expect(got).toEqual(outcome(text));
    }
  });

  describe('a 200,000-device registry in a running pipeline', () => {
    const svc = useServices();

    it('loads in seconds, and reloading it leaves /healthz answering within 2 s (it was 33 s)', async () => {
      const dir = tempDir();
      const file = join(dir, 'devices.yaml');
      writeFileSync(file, registryText(200_000));
      const coldFile = join(dir, 'cold.yaml');
      copyFileSync(file, coldFile);
      const t0 = performance.now();
      expect(loadRegistry(coldFile, catalogue).size).toBe(200_000);
      const coldMs = performance.now() - t0;
      expect(coldMs).toBeLessThan(5000);

      const pipeline = await Pipeline.start(testConfig({ mqttUrl: svc.mqttUrl, influxUrl: svc.influxUrl, dataDir: dir, devices: file }), { logger: testLogger() });
      onTestFinished(() => pipeline.stop());
      await waitUntil(() => pipeline.ready().ok, 30_000, 'pipeline ready');
      expect(pipeline.live.registry().size).toBe(200_000);

      // An operator adds five devices: the reload happens while /healthz is asked every 10 ms.
      const delay = monitorEventLoopDelay({ resolution: 10 });
      const latencies: number[] = [];
      const inFlight: Promise<void>[] = [];
      const ask = () => {
        const sent = performance.now();
        inFlight.push(
          fetch(`http://127.0.0.1:${pipeline.httpPort}/healthz`).then(async (res) => {
            await res.text();
            expect(res.status).toBe(200);
            latencies.push(performance.now() - sent);
          }),
        );
      };
      const timer = setInterval(ask, 10);
      onTestFinished(() => clearInterval(timer));
      await new Promise((r) => setTimeout(r, 300));
      delay.enable();
      const reloads = pipeline.live.status.reloads;
      appendFileSync(file, Array.from({ length: 5 }, (_, i) => `- { id: added-${i}, sector: agri, region: "220100", types: [ soil ] }\n`).join(''));
      await waitUntil(() => pipeline.live.registry().size === 200_005, 60_000, 'registry reloaded');
      await new Promise((r) => setTimeout(r, 300));
      clearInterval(timer);
      delay.disable();
      await Promise.all(inFlight);
      expect(pipeline.live.status.reloads).toBe(reloads + 1);
      expect(pipeline.live.registry().get('added-4')).toMatchObject({ sector: 'agri', region: '220100' });
      expect(latencies.length).toBeGreaterThan(10);
      // The bound catches the regression (the YAML document model: 33 s), not a loaded machine:
      // the reload itself holds the loop about 0.4 s here, and took 0.58 s once under CI's load,
      // failing the earlier 500 ms bound with no regression.
      expect(Math.max(...latencies)).toBeLessThan(2000);
      expect(delay.max / 1e6).toBeLessThan(2000);
      expect(readFileSync(file, 'utf8').split('\n').length).toBe(200_007);
    });
  });
});
