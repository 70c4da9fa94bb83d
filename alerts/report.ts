import { LEVEL_NAMES } from '../core/anomaly.js';
import type { Incident } from './incident.js';

const iso = (ms?: number) => (ms ? new Date(ms).toISOString() : undefined);

/**
 * An untrusted string (device ids, details, notes, names) as inert Markdown text: metacharacters
 * backslash-escaped, then control, format (bidi overrides, zero-width) and line-break characters
 * shown as `\uXXXX`, so nothing can add links, markup or lines, or reorder what is shown.
 */
export function mdText(v: unknown): string {
  return String(v)
    .replace(/[\\`*_{}[\]()<>#+!|~&]/g, '\\$&')
    .replace(/^[-=]/, '\\$&')
    .replace(/^(\d+)\./, '$1\\.')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
}

/**
 * The incident report an operator files (regulation art. 77; national incident-reporting rules):
 * what happened, when, scope, data grade, timeline and actions taken.
 */
export function incidentReport(inc: Incident, now = Date.now()) {
  return {
    id: inc.id,
    what: { title: inc.title, kind: `${inc.detector}.${inc.kind}`, category: inc.category, detail: inc.lastDetail, evidence: inc.lastEvidence, anomalies: inc.count },
    level: { level: inc.level, name: LEVEL_NAMES[inc.level] },
    when: { firstEvidence: iso(inc.firstEventMs), lastEvidence: iso(inc.lastEventMs), opened: iso(inc.openedAt), reportBy: iso(inc.reportBy), reported: iso(inc.reportedAt), overdue: inc.overdue || (!!inc.reportBy && !inc.reportedAt && now > inc.reportBy) },
    scope: { sector: inc.sector, region: inc.region, regionWide: inc.regionWide, deviceCount: inc.deviceCount, devices: Object.keys(inc.devices), criticalInfrastructure: inc.criticalInfrastructure },
    grade: { grade: inc.grade, resourceCode: inc.code },
    state: inc.state,
    timeline: inc.timeline.map((t) => ({ ...t, at: iso(t.at) })),
    actions: inc.timeline.filter((t) => t.by).map((t) => ({ at: iso(t.at), by: t.by, action: t.event, note: t.note })),
  };
}

export function incidentReportMarkdown(inc: Incident, now = Date.now()): string {
  const r = incidentReport(inc, now);
  const t = mdText;
  const devices = r.scope.devices.slice(0, 50).map(t).join(', ') + (r.scope.deviceCount > 50 ? `, ... (${r.scope.deviceCount} in all)` : '');
  return [
    `# Incident report ${t(r.id)}`,
    '',
    `**Level ${r.level.name}** · ${t(r.what.category)} · ${t(r.state)}${r.when.overdue ? ' · **REPORT OVERDUE**' : ''}`,
    '',
    '## What',
    `${t(r.what.title)}: ${t(r.what.detail)} (${r.what.anomalies} anomalies merged).`,
    ...(r.what.evidence ? ['', `Evidence (${t(r.what.evidence.view)} view): likelihood ${r.what.evidence.likelihood.toPrecision(2)}, baseline ${r.what.evidence.expected.toPrecision(4)}, noise ${r.what.evidence.noise.toPrecision(2)}, residual ${r.what.evidence.z} noise units, local hour ${r.what.evidence.hour}.`] : []),
    '',
    '## When',
    `- First evidence: ${r.when.firstEvidence}`,
    `- Last evidence: ${r.when.lastEvidence}`,
    `- Opened: ${r.when.opened}`,
    `- Report by: ${r.when.reportBy ?? 'not reportable (level IV)'}`,
    `- Reported: ${r.when.reported ?? 'not yet'}`,
    '',
    '## Scope',
    `- Sector ${t(r.scope.sector)}, region ${t(r.scope.region)}${r.scope.regionWide ? ' (region-wide)' : ''}`,
    `- Devices (${r.scope.deviceCount}): ${devices || 'none named'}`,
    `- Critical infrastructure: ${r.scope.criticalInfrastructure ? 'yes' : 'no'}`,
    '',
    '## Data grade',
    `${t(r.grade.grade)} (resource ${r.grade.resourceCode === undefined ? 'n/a' : t(r.grade.resourceCode)})`,
    '',
    '## Timeline',
    ...r.timeline.map((e) => `- ${e.at} ${t(e.event)}${e.level ? ` (level ${LEVEL_NAMES[e.level]})` : ''}${e.by ? ` by ${t(e.by)}` : ''}${e.note ? `: ${t(e.note)}` : ''}`),
    '',
    '## Actions',
    ...(r.actions.length ? r.actions.map((a) => `- ${a.at} ${t(a.action)} by ${t(a.by)}${a.note ? `: ${t(a.note)}` : ''}`) : ['- none yet']),
    '',
  ].join('\n');
}
