import type { FastifyInstance } from 'fastify';
import type { FromSchema } from 'json-schema-to-ts';
import { parseDuration } from '../../config/catalogue.js';
import { MAX_HORIZON_DAYS, MAX_HORIZON_MS, type CapacityPlan } from '../../capacity/planner.js';
import { capacityJson, capacityMarkdown } from '../../capacity/report.js';
import { requireRole } from '../auth.js';
import type { ApiContext } from '../context.js';

const query = {
  type: 'object',
  additionalProperties: false,
  properties: {
    horizon: { type: 'string', pattern: '^[0-9]+(m|h|d)$', description: `Forecast horizon, e.g. 365d (default), at most ${MAX_HORIZON_DAYS}d.` },
    format: { enum: ['json', 'markdown'] },
    series: { enum: ['true', 'false'], description: 'Include each metric\'s history and forecast as [time ms, value] pairs (for charts).' },
  },
} as const;

/** Plans asked for at once: one is computed at a time (each holds the whole history), the rest wait; past this, 429. */
const MAX_PENDING = 4;

/**
 * `GET /capacity`: the capacity plan from the statistics in InfluxDB (viewer). A horizon over
 * MAX_HORIZON_DAYS is a 400 naming the limit; more than MAX_PENDING plans at once, a 429.
 */
export function capacityRoutes(app: FastifyInstance, ctx: ApiContext & { capacity: NonNullable<ApiContext['capacity']> }): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  let queue: Promise<unknown> = Promise.resolve();
  let pending = 0;
  app.get<{ Querystring: FromSchema<typeof query> }>('/capacity', { onRequest: viewer, schema: { querystring: query } }, async (req, reply) => {
    const horizon = req.query.horizon ?? '365d';
    const horizonMs = parseDuration(horizon);
    if (!(horizonMs <= MAX_HORIZON_MS)) {
      return reply.code(400).send({ error: 'bad_request', field: 'querystring/horizon', message: `horizon ${horizon.length > 20 ? `${horizon.slice(0, 20)}…` : horizon} is longer than the limit of ${MAX_HORIZON_DAYS}d` });
    }
    if (pending >= MAX_PENDING) return reply.code(429).header('retry-after', '10').send({ error: 'busy', message: `${pending} capacity plans are pending; try again shortly` });
    pending++;
    const run = queue.then(() => ctx.capacity(horizonMs));
    queue = run.catch(() => undefined);
    let plan: CapacityPlan;
    try {
      plan = await run;
    } catch (e) {
      return reply.code(503).send({ error: 'unavailable', message: `capacity plan needs InfluxDB: ${(e as Error).message}` });
    } finally {
      pending--;
    }
    if (req.query.format === 'markdown') return reply.type('text/markdown; charset=utf-8').send(capacityMarkdown(plan));
    return req.query.series === 'true' ? plan : capacityJson(plan);
  });
}
