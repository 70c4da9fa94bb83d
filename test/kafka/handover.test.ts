import { describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../config/catalogue.js';
import { publishInOrder } from '../../ingest/simulator/publish.js';
import { buildScenarioRun, catalogueCadence } from '../../ingest/simulator/scenarios.js';
import { kafkaTopology, kcatRead, spawnRole } from '../helpers/kafka.js';
import { TOKENS, getJson, waitUntil } from '../helpers/pipeline.js';
import { useServices } from '../helpers/services.js';

type Stats = { kafka: { consumers: { partitions: number[] }[] } };
type Inc = { detector: string; kind: string; sector: string; region: string; firstEventMs: number };
type Found = { detector: string; kind: string; device?: string; sector: string; region: string; eventMs: number; detail?: string };

/** Per-device kinds the warm hand-over must keep right across a worker's death. */
const JUDGED = new Set(['spike.spike', 'spike.level_shift', 'silence.device']);

// Warm hand-over (SPEC 8): the same labelled scenario run (spike, level shift, silence and the
// rest, two hours of event time) through 3 workers, once undisturbed and once with the worker
// owning the most scenario devices SIGKILLed part-way. The killed worker's devices must raise
// exactly the spike, level-shift and silence anomalies of the undisturbed run (none false, none
// missed), and the incidents must be the same.
describe('Kafka warm hand-over of detector state', () => {
  const svc = useServices();

  async function run(kill: boolean, endMs: number) {
    const { c, fleet, cfg } = kafkaTopology(svc, 198);
    const workers = await Promise.all(['1', '2', '3'].map((i) => spawnRole(cfg, 'worker', i)));
    const gateway = await spawnRole(cfg, 'gateway', '1');
    type Progress = { totals: { received: number }; pending: number; kafka: { consumers: { totalLag: number; unsettled: number }[] } };
    /** The gateway took `n` messages and every live worker has read and stored all it was given. */
    const settled = (n: number, live: typeof workers) =>
      waitUntil(async () => {
        const g = (await getJson<Progress>(gateway.port, '/stats')).body;
        if (g.totals.received < n || g.pending > 0) return false;
        const ws = await Promise.all(live.map(async (w) => (await getJson<Progress>(w.port, '/stats')).body));
        return ws.every((w) => w.pending === 0 && w.kafka.consumers[0].totalLag === 0 && w.kafka.consumers[0].unsettled === 0);
      }, 120_000, `${n} messages through the gateway and the workers`);
    const incidents = await spawnRole(cfg, 'incidents', '1');
    const owned = async () => Promise.all(workers.map(async (w) => (await getJson<Stats>(w.port, '/stats')).body.kafka.consumers[0].partitions));
    await waitUntil(async () => (await owned()).every((p) => p.length === 2), 30_000, 'two partitions per worker');

    const scenario = buildScenarioRun(fleet, ['all'], { seed: 7, endMs, cadence: catalogueCadence(loadCatalogue(c.catalogue)) });
    const messages = scenario.messages;
    // The first 40% (up to minute 48 of 120, before the injections of the judged scenarios) is
    // stored before anything else happens, so both runs reach the same point the same way.
    const cut = Math.floor(messages.length * 0.4);
    await publishInOrder(svc.mqttUrl, messages.slice(0, cut));
    await settled(cut, workers);
    await new Promise((r) => setTimeout(r, 1500)); // a state checkpoint
    // Which worker owns which devices (their partitions on jl.readings, read with kcat).
    const partitionOf = new Map(kcatRead(c.kafka.brokers!, c.kafka.topics.readings, '%k\\t%p\\t%h\\t%s\\n').map((r) => [r.key, Number(r.headers)]));
    const ownership = await owned();
    const scenarioDevices = scenario.truth.scenarios.filter((s) => JUDGED.has(s.kind)).flatMap((s) => s.devices);
    const victim = [0, 1, 2].sort((a, b) => count(b) - count(a))[0];
    function count(w: number) {
      return scenarioDevices.filter((d) => ownership[w].includes(partitionOf.get(d)!)).length;
    }
    const victimDevices = new Set([...partitionOf].filter(([, p]) => ownership[victim].includes(p)).map(([d]) => d));
    // Both runs pause as long here (30 s) (the time a group needs to notice a dead member): a pause in
    // the stream is a pause in event time too (the watermark follows the wall clock while
    // nothing arrives), so the undisturbed run must see the same one.
    const resumeAt = Date.now() + 30_000;
    if (kill) {
      workers[victim].child.kill('SIGKILL');
      const survivors = workers.filter((_, i) => i !== victim);
      await waitUntil(async () => {
        const parts = await Promise.all(survivors.map(async (w) => (await getJson<Stats>(w.port, '/stats')).body.kafka.consumers[0].partitions.length));
        return parts[0] + parts[1] === 6;
      }, 30_000, 'the killed worker\'s partitions moved');
    }
    expect(Date.now(), 'partitions moved within the pause').toBeLessThan(resumeAt);
    await new Promise((r) => setTimeout(r, resumeAt - Date.now()));
    await publishInOrder(svc.mqttUrl, messages.slice(cut));
    await settled(messages.length, kill ? workers.filter((_, i) => i !== victim) : workers);
    await new Promise((r) => setTimeout(r, 5000)); // the last ticks, partials and incidents
    const anomalies = kcatRead(c.kafka.brokers!, c.kafka.topics.anomalies)
      .filter((r) => r.headers.includes('kind=anomaly'))
      .map((r) => JSON.parse(r.value) as Found);
    const incidentList = (await getJson<{ items: Inc[] }>(incidents.port, '/incidents?limit=1000', TOKENS.admin)).body.items;
    // Each device's shortest update cycle, for the silence limit.
    const catalogue = loadCatalogue(c.catalogue);
    const cycles = new Map(fleet.map((d) => [d.id, Math.min(...d.types.map((t) => catalogue.byType.get(`${d.sector}/${t}`)!.updateCycleMs))]));
    // Each device's accepted readings in event time, as the workers got them (refused messages,
    // e.g. a physical-range violation, are no readings: a device sending only those is silent).
    const readings = new Map<string, number[]>();
    for (const r of kcatRead(c.kafka.brokers!, c.kafka.topics.readings)) {
      if (r.headers.includes('kind=rejection')) continue;
      readings.set(r.key, [...(readings.get(r.key) ?? []), (JSON.parse(r.value) as { eventMs: number }).eventMs]);
    }
    return { anomalies, incidents: incidentList, victimDevices, scenario: scenario.truth, readings, cutAt: messages[cut].at, cycles, silence: c.detection.silence };
  }

  it('the killed worker\'s devices raise exactly the spike, level-shift and silence anomalies of a run without the kill, and the incidents are the same', async () => {
    // Both runs replay the very same readings: the simulator's values follow the time of day (and
    // seasonal baselines are per hour), so two runs minutes apart in event time would differ in
    // the data itself, and with it in secondary detections.
    const endMs = Date.now() - 60_000;
    const calm = await run(false, endMs);
    const killed = await run(true, endMs);
    const devices = killed.victimDevices; // the same partitions, so the same devices, in both runs
    const inRun = (r: typeof calm, a: Found) => a.device !== undefined && devices.has(a.device) && a.eventMs <= r.scenario.end;

    // Spike and level shift: exactly the same anomalies on the victim's devices.
    const values = (r: typeof calm) => [...new Set(r.anomalies.filter((a) => inRun(r, a) && a.detector === 'spike').map((a) => `${a.detector}.${a.kind}|${a.device}`))].sort();
    expect(values(killed)).toEqual(values(calm));

    // Silence, judged against the data itself (event-time gaps between a device's readings): a
    // silence where the data has no gap is false, a gap well past the limit without one is
    // missed. Left out: the pause both runs make at the cut (the watermark follows the wall
    // clock while nothing arrives, so it is a silence of its own) and gaps within one update
    // cycle of the limit (decided by how partitions interleave on a worker).
    const silences = (r: typeof calm) => {
      const times = new Map([...r.readings].filter(([d]) => devices.has(d)));
      const limit = (d: string) => Math.max(r.silence.minSilenceMs, r.silence.factor * r.cycles.get(d)!);
      const pause = (t: number) => t >= r.cutAt - 60_000 && t <= r.cutAt + 60_000;
      const found = r.anomalies.filter((a) => inRun(r, a) && a.detector === 'silence' && a.kind === 'device' && !pause(a.eventMs));
      const gapAt = (d: string, t: number) => {
        const ts = (times.get(d) ?? []).sort((x, y) => x - y);
        const prev = ts.filter((x) => x <= t).pop() ?? -Infinity;
        return (ts.find((x) => x > prev) ?? r.scenario.end) - prev;
      };
      const falseOnes = found.filter((a) => gapAt(a.device!, a.eventMs) < limit(a.device!)).map((a) => `${a.device}@${a.eventMs - r.scenario.start}`);
      const missed: string[] = [];
      for (const [d, ts] of times) {
        const sorted = [...ts].sort((x, y) => x - y);
        for (let i = 1; i < sorted.length; i++) {
          const [prev, next] = [sorted[i - 1], sorted[i]];
          if (next - prev <= limit(d) + r.cycles.get(d)! || pause(prev + limit(d))) continue;
          if (!found.some((a) => a.device === d && a.eventMs > prev && a.eventMs <= next + r.cycles.get(d)!)) missed.push(`${d}@${prev - r.scenario.start}+${next - prev}`);
        }
      }
      return { falseOnes, missed, found: found.length };
    };
    const after = silences(killed);
    expect(after.falseOnes, 'false silences on the devices handed over').toEqual([]);
    expect(after.missed, 'silences missed on the devices handed over').toEqual([]);
    expect(silences(calm)).toEqual({ ...after, found: silences(calm).found });

    // The hand-over was tested: the scenarios the victim owned were judged by its successor.
    const owned = killed.scenario.scenarios.filter((s) => JUDGED.has(s.kind) && s.devices.some((d) => devices.has(d)));
    expect(owned.length).toBeGreaterThan(0);
    for (const sc of owned) expect(killed.anomalies.some((a) => `${a.detector}.${a.kind}` === sc.kind && sc.devices.includes(a.device ?? '') && a.eventMs >= sc.start), `${sc.scenario} detected after the hand-over`).toBe(true);
    // Incidents of the run's event time (after it, watermarks follow the wall clock, which differs
    // between runs), region-wide ones included: the incident manager judges those from the
    // workers' partial counts per event-time window and bucket, so a replay of two hours in
    // seconds judges them as live data would, with or without the kill.
    const incidentKeys = (r: typeof calm) => [...new Set(r.incidents.filter((i) => i.firstEventMs <= r.scenario.end).map((i) => `${i.detector}.${i.kind}|${i.sector}|${i.region}`))].sort();
    expect(incidentKeys(calm).filter((k) => k.includes('.region|')), 'region incidents judged').not.toEqual([]);
    expect(incidentKeys(killed)).toEqual(incidentKeys(calm));
  }, 420_000);
});

