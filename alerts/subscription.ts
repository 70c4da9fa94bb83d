import { GRADE_RANK } from '../config/catalogue.js';
import type { FromSchema } from 'json-schema-to-ts';
import { CATEGORIES } from '../core/anomaly.js';
import { SECTOR_NAME } from '../core/types.js';
import type { Incident } from './incident.js';
import type { IncidentEvent } from './incidents.js';

export const ALERT_EVENTS: IncidentEvent[] = ['opened', 'escalated', 'reopened', 'acknowledged', 'resolved', 'overdue', 'reported'];

/** JSON Schema of a subscription as the API takes it (id and createdAt are assigned). */
export const subscriptionInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'channel'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    filters: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        sectors: { type: 'array', items: { type: 'string', pattern: SECTOR_NAME } },
        regions: { type: 'array', items: { type: 'string', pattern: '^22\\d{4}$' }, description: 'Division codes; a city code (ending 00) also matches its counties.' },
        categories: { type: 'array', items: { enum: [...CATEGORIES] } },
        minLevel: { type: 'integer', enum: [1, 2, 3, 4], default: 4, description: 'Least severe level delivered: 4 = all, 3 = III and above, ...' },
      },
    },
    clearance: { enum: ['general', 'important', 'core'], default: 'general', description: 'Highest data grade this subscriber may learn about.' },
    events: { type: 'array', items: { enum: ALERT_EVENTS }, minItems: 1, default: ['opened', 'escalated', 'reopened', 'resolved', 'overdue'] },
    channel: {
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'url', 'secret'],
          properties: { type: { const: 'webhook' }, url: { type: 'string', format: 'uri', pattern: '^https?://', description: 'Checked against alerts.egress when saved and at every delivery; shown with userinfo and query values masked.' }, secret: { type: 'string', minLength: 16 } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type'],
          properties: { type: { const: 'mqtt' }, topicPrefix: { type: 'string', pattern: '^jl/alerts(/[^#+/]+)*$', description: 'Default jl/alerts; the topic is jl/alerts/{grade}{what this adds}/{level}/{sector}/{region} (see alertTopic).' } },
        },
      ],
    },
  },
} as const;

/** A subscription as the API takes it, defaults filled. */
export type SubscriptionInput = FromSchema<typeof subscriptionInputSchema>;
/** Who gets which alerts, how, and which data grades they are cleared for. */
export type Subscription = SubscriptionInput & { id: string; createdAt: number };
export type Channel = Subscription['channel'];

/** Whether `sub` may and wants to hear about `event` on `inc`. Clearance is never waived. */
export function matches(sub: Subscription, event: IncidentEvent, inc: Incident): boolean {
  if (GRADE_RANK[inc.grade] > GRADE_RANK[sub.clearance]) return false;
  if (!sub.events.includes(event)) return false;
  const f = sub.filters;
  if (inc.level > f.minLevel) return false;
  if (f.sectors && !(f.sectors as readonly string[]).includes(inc.sector)) return false;
  if (f.categories && !f.categories.includes(inc.category)) return false;
  if (f.regions && !f.regions.some((r) => r === inc.region || (r.endsWith('00') && inc.region.startsWith(r.slice(0, 4))))) return false;
  return true;
}
