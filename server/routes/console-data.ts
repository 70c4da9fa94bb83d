import type { FastifyInstance } from 'fastify';
import type { Grade } from '../../core/catalogue.js';
import { cleared, requireRole } from '../auth.js';
import type { ApiContext } from '../context.js';
import { onlineMatrix } from '../views/device-activity.js';
import { overviewFor } from '../views/overview.js';

/** What the route reads of a dead letter to grade it. */
interface DeadLetterView {
  source: string;
}

const deadLetterQuery = { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^\\d{1,3}$' } } } as const;

/**
 * What the console reads besides the API's own resources: who the caller is (`/session`), the
 * overview once (`/overview`, for a console without the event stream), the
 * registry with when each device was last heard (`/devices`), and the dead letters since start
 * (`/deadletters`). Devices are shown within the caller's clearance (by the grade of what they
 * send); dead-letter records (topic and payload, personal fields already pseudonymised when
 * rejected) to operators and admins only, their counts to every role.
 */
export function consoleDataRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  // What this process offers besides the core API: a role of the Kafka topology keeps only part.
  const features = { incidents: !!ctx.incidents, devices: !!ctx.devices, deadLetters: !!ctx.deadLetters, delivery: !!ctx.delivery, chain: !!ctx.verifyChain, capacity: !!ctx.capacity };
  app.get('/session', { onRequest: viewer, schema: { description: 'The caller (token name, role, clearance) and the parts of the API this process offers.' } }, async (req) => ({ ...req.caller, features }));
  // What /events pushes, for a console without the stream (it polls this instead).
  app.get('/overview', { onRequest: viewer, schema: { description: 'The overview /events pushes every second, once.' } }, async (req) => overviewFor(ctx, req.caller));
  if (ctx.devices) {
    const devices = ctx.devices;
    app.get('/devices', { onRequest: viewer, schema: { description: 'Registered devices (within the caller\'s clearance): sector, region, keyed, last heard, silent; and devices online per sector and region.' } }, async (req) => {
      const list = devices().filter((d) => cleared(req.caller, d.grade));
      return { total: list.length, online: list.filter((d) => !d.silent).length, matrix: onlineMatrix(list), items: list };
    });
  }
  if (ctx.deadLetters) {
    const deadLetters = ctx.deadLetters;
    app.get<{ Querystring: { limit?: string } }>('/deadletters', { onRequest: viewer, schema: { querystring: deadLetterQuery, description: 'Dead letters since start: per minute by reason and source over the last hour, totals by reason, and (operator and admin) the latest records.' } }, async (req) => {
      const snap = deadLetters();
      // A letter is shown within clearance by the grade of its catalogue entry (source
      // sector/region/type); one that names no entry only to core-cleared callers.
      const catalogue = ctx.catalogue();
      const gradeOf = (source: string): Grade => {
        const [sector, , type] = source.split('/');
        return catalogue.byType.get(`${sector}/${type}`)?.grade ?? 'core';
      };
      const records = req.caller!.role === 'viewer' ? [] : (snap.latest as DeadLetterView[]).filter((l) => cleared(req.caller, gradeOf(l.source))).slice(0, Number(req.query.limit ?? 50));
      return { ...snap, latest: records, recordsShown: req.caller!.role !== 'viewer' };
    });
  }
}
