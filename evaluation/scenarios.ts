import type { Incident } from '../alerts/incident.js';
import type { Truth, TruthEntry } from '../ingest/simulator/scenarios.js';

/** How one scenario was detected. */
export interface ScenarioScore {
  scenario: string;
  kind: string;
  detected: boolean;
  precision: number;
  recall: number;
  /** Event time from the start of the injection to the first matching detection. */
  delayMs?: number;
  incident?: string;
  level?: number;
  expectedLevel: number;
  category?: string;
  expectedCategory: string;
  /** Detections of this kind that match no injection at all. */
  falsePositives: number;
}

interface Detection {
  kind: string;
  sector: string;
  region: string;
  device?: string;
  t: number;
  incident: Incident;
}

/** Every detection in the incidents: one per (incident, device), or one for a region-wide incident. */
function detections(incidents: Incident[]): Detection[] {
  return incidents.flatMap((i) => {
    const kind = `${i.detector}.${i.kind}`;
    const base = { kind, sector: i.sector, region: i.region, incident: i };
    const devs = Object.entries(i.devices);
    return devs.length ? devs.map(([device, t]) => ({ ...base, device, t })) : [{ ...base, t: i.firstEventMs }];
  });
}

function covers(e: TruthEntry, d: Detection, graceMs: number, primaryOnly: boolean): boolean {
  const kindOk = primaryOnly ? e.kind === d.kind : e.kind === d.kind || e.also.includes(d.kind);
  if (!kindOk || e.sector !== d.sector || e.region !== d.region) return false;
  if (e.devices.length && (!d.device || !e.devices.includes(d.device))) return false;
  // A minute of slack before the start: a watermark can trail the injected message slightly.
  return d.t >= e.start - 60_000 && d.t <= e.end + graceMs;
}

/**
 * Scores the incidents raised during a scenario run against its ground truth, per scenario:
 * recall (the injection was detected, as the scenario's kind, on its device or region, in its
 * window plus `graceMs`), precision (of all detections of that kind, the share that match some
 * injection that may raise it), detection delay, and the level and category of the incident.
 */
export function scoreScenarios(truth: Truth, incidents: Incident[], graceMs = 10 * 60_000): ScenarioScore[] {
  const all = detections(incidents);
  return truth.scenarios.map((e) => {
    // Detections after the labelled run (devices go silent when a run stops) are not scored.
    const ofKind = all.filter((d) => d.kind === e.kind && (d.t <= truth.end || truth.scenarios.some((x) => covers(x, d, graceMs, false))));
    const hits = ofKind.filter((d) => covers(e, d, graceMs, true)).sort((a, b) => a.t - b.t);
    const matched = ofKind.filter((d) => truth.scenarios.some((x) => covers(x, d, graceMs, false)));
    const first = hits[0];
    return {
      scenario: e.scenario,
      kind: e.kind,
      detected: !!first,
      recall: first ? 1 : 0,
      precision: ofKind.length ? matched.length / ofKind.length : 0,
      delayMs: first ? Math.max(0, first.t - e.start) : undefined,
      incident: first?.incident.id,
      level: first?.incident.level,
      expectedLevel: e.level,
      category: first?.incident.category,
      expectedCategory: e.category,
      falsePositives: ofKind.length - matched.length,
    };
  });
}

export function scenarioTable(scores: ScenarioScore[]): string {
  const roman = ['', 'I', 'II', 'III', 'IV'];
  const rows = scores.map(
    (s) =>
      `| ${s.scenario} | ${s.kind} | ${s.precision.toFixed(2)} | ${s.recall.toFixed(2)} | ${s.delayMs === undefined ? '-' : `${(s.delayMs / 1000).toFixed(0)} s`} | ${s.category ?? '-'} | ${s.level ? roman[s.level] : '-'} (expected ${roman[s.expectedLevel]}) |`,
  );
  return ['| scenario | kind | precision | recall | detection delay (event time) | category | level |', '|---|---|---|---|---|---|---|', ...rows].join('\n');
}
