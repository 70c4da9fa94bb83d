import { cleared, type Caller } from '../auth.js';
import type { ApiContext } from '../context.js';
import { onlineMatrix } from './device-activity.js';

/**
 * The pipeline's running totals as a caller may see them: incident counts cover only the
 * incidents it is cleared for (counting the others would reveal what `/incidents` hides).
 */
export function statsFor(ctx: ApiContext, caller: Caller | undefined): unknown {
  const stats = ctx.stats();
  if (!stats || typeof stats !== 'object' || !('incidents' in stats) || !ctx.incidents) return stats;
  const counts: Record<string, number> = { open: 0, acknowledged: 0, resolved: 0, overdue: 0 };
  for (const i of ctx.incidents.all()) {
    if (!cleared(caller, i.grade)) continue;
    counts[i.state]++;
    if (i.overdue) counts.overdue++;
  }
  return { ...stats, incidents: counts };
}

/**
 * What the console's overview shows, pushed every second on `/events`: the totals, readiness,
 * the devices online per sector and region, the open (unresolved) incidents per level, and a
 * version of the incident list that changes whenever an incident the caller sees changes, so
 * a page showing incidents knows to fetch them again.
 */
export function overviewFor(ctx: ApiContext, caller: Caller | undefined) {
  const ready = ctx.ready();
  const byLevel: Record<string, number> = { 1: 0, 2: 0, 3: 0, 4: 0 };
  let latest = 0;
  let seen = 0;
  let overdue = 0;
  let reported = 0;
  let active = 0;
  for (const i of ctx.incidents?.all() ?? []) {
    if (!cleared(caller, i.grade)) continue;
    seen++;
    if (i.state !== 'resolved') byLevel[i.level]++;
    if (i.overdue) overdue++;
    if (i.reportedAt) reported++;
    if (i.active) active++;
    latest = Math.max(latest, i.updatedAt, i.acknowledgedAt ?? 0, i.resolvedAt ?? 0);
  }
  const devices = ctx.devices?.().filter((d) => cleared(caller, d.grade));
  return {
    at: Date.now(),
    stats: statsFor(ctx, caller),
    ready: { ok: ready.ok, checks: ready.checks },
    devices: devices ? { matrix: onlineMatrix(devices), online: devices.filter((d) => !d.silent).length, total: devices.length } : null,
    incidents: { openByLevel: byLevel, overdue, version: `${seen}:${latest}:${overdue}:${reported}:${active}` },
  };
}
