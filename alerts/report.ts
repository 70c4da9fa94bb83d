import { LEVEL_NAMES } from '../core/anomaly.js';
import type { Incident } from './incident.js';

const iso = (ms?: number) => (ms ? new Date(ms).toISOString() : undefined);

/**
 * The incident report an operator files (regulation art. 77; national incident-reporting rules):
 * what happened, when, scope, data grade, timeline and actions taken.
 */
export function incidentReport(inc: Incident, now = Date.now()) {
  return {
    id: inc.id,
    what: { title: inc.title, kind: `${inc.detector}.${inc.kind}`, category: inc.category, detail: inc.lastDetail, anomalies: inc.count },
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
  const devices = r.scope.devices.slice(0, 50).join(', ') + (r.scope.deviceCount > 50 ? `, ... (${r.scope.deviceCount} in all)` : '');
  return [
    `# Incident report ${r.id}`,
    '',
    `**Level ${r.level.name}** · ${r.what.category} · ${r.state}${r.when.overdue ? ' · **REPORT OVERDUE**' : ''}`,
    '',
    '## What',
    `${r.what.title}: ${r.what.detail} (${r.what.anomalies} anomalies merged).`,
    '',
    '## When',
    `- First evidence: ${r.when.firstEvidence}`,
    `- Last evidence: ${r.when.lastEvidence}`,
    `- Opened: ${r.when.opened}`,
    `- Report by: ${r.when.reportBy ?? 'not reportable (level IV)'}`,
    `- Reported: ${r.when.reported ?? 'not yet'}`,
    '',
    '## Scope',
    `- Sector ${r.scope.sector}, region ${r.scope.region}${r.scope.regionWide ? ' (region-wide)' : ''}`,
    `- Devices (${r.scope.deviceCount}): ${devices || 'none named'}`,
    `- Critical infrastructure: ${r.scope.criticalInfrastructure ? 'yes' : 'no'}`,
    '',
    '## Data grade',
    `${r.grade.grade} (resource ${r.grade.resourceCode ?? 'n/a'})`,
    '',
    '## Timeline',
    ...r.timeline.map((t) => `- ${t.at} ${t.event}${t.level ? ` (level ${LEVEL_NAMES[t.level]})` : ''}${t.by ? ` by ${t.by}` : ''}${t.note ? `: ${t.note}` : ''}`),
    '',
    '## Actions',
    ...(r.actions.length ? r.actions.map((a) => `- ${a.at} ${a.action} by ${a.by}${a.note ? `: ${a.note}` : ''}`) : ['- none yet']),
    '',
  ].join('\n');
}
