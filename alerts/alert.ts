import { createHmac } from 'node:crypto';
import { LEVEL_NAMES } from '../core/anomaly.js';
import type { Grade } from '../core/catalogue.js';
import type { Incident } from './incident.js';
import type { IncidentEvent } from './incidents.js';

/** The alert a subscriber receives: the event and a summary of the incident. */
export function alertBody(id: string, event: IncidentEvent, inc: Incident, at: number): string {
  return JSON.stringify({
    alertId: id,
    event,
    at: new Date(at).toISOString(),
    incident: {
      id: inc.id,
      level: inc.level,
      levelName: LEVEL_NAMES[inc.level],
      category: inc.category,
      kind: `${inc.detector}.${inc.kind}`,
      state: inc.state,
      sector: inc.sector,
      region: inc.region,
      code: inc.code,
      grade: inc.grade,
      criticalInfrastructure: inc.criticalInfrastructure,
      title: inc.title,
      detail: inc.lastDetail,
      deviceCount: inc.deviceCount,
      devices: Object.keys(inc.devices).slice(0, 20),
      openedAt: new Date(inc.openedAt).toISOString(),
      reportBy: inc.reportBy ? new Date(inc.reportBy).toISOString() : undefined,
      overdue: inc.overdue,
    },
  });
}

/** `X-JL-Signature` header value: `sha256=` + hex HMAC-SHA256 of the exact body bytes. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A topic prefix as `jl/alerts` and what a subscription adds after it (the grade goes between). */
const splitPrefix = (prefix: string): [string, string] => (prefix.startsWith('jl/alerts') ? ['jl/alerts', prefix.slice('jl/alerts'.length)] : [prefix, '']);

/** Where a subscription's test alert goes: its prefix under its clearance, then `test` (jl/alerts/general/test). */
export function testTopic(prefix: string, clearance: Grade): string {
  const [root, custom] = splitPrefix(prefix);
  return `${root}/${clearance}${custom}/test`;
}

/**
 * MQTT topic of an alert: `jl/alerts/{grade}{custom}/{level}/{sector}/{region}`, `{custom}` being
 * what a subscription's topicPrefix adds after `jl/alerts`. The data grade always comes right
 * after `jl/alerts`, so a broker ACL clears each MQTT user for exactly its grades whatever the
 * prefix, e.g. mosquitto `acl_file` for a user cleared for important data:
 *   user duty-desk
 *   topic read jl/alerts/general/#
 *   topic read jl/alerts/important/#
 * (no `jl/alerts/#` read for anyone but core-cleared users; only the pipeline writes `jl/alerts/#`).
 */
export function alertTopic(prefix: string, inc: Pick<Incident, 'grade' | 'level' | 'sector' | 'region'>): string {
  const [root, custom] = splitPrefix(prefix);
  return `${root}/${inc.grade}${custom}/${LEVEL_NAMES[inc.level]}/${inc.sector}/${inc.region}`;
}
