import { createHmac } from 'node:crypto';
import { LEVEL_NAMES } from '../core/anomaly.js';
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

export function alertTopic(prefix: string, inc: Incident): string {
  return `${prefix}/${LEVEL_NAMES[inc.level]}/${inc.sector}/${inc.region}`;
}
