import type { FastifyInstance } from 'fastify';
import type { FromSchema } from 'json-schema-to-ts';
import { parseDuration } from '../../config/catalogue.js';
import type { CapacityPlan } from '../../capacity/planner.js';
import { capacityJson, capacityMarkdown } from '../../capacity/report.js';
import { requireRole } from '../auth.js';
import type { ApiContext } from '../context.js';

const query = {
  type: 'object',
  additionalProperties: false,
  properties: {
    horizon: { type: 'string', pattern: '^[0-9]+(m|h|d)$', description: 'Forecast horizon, e.g. 365d (default).' },
    format: { enum: ['json', 'markdown'] },
  },
} as const;

/** `GET /capacity`: the capacity plan from the statistics in InfluxDB (viewer). */
export function capacityRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  app.get<{ Querystring: FromSchema<typeof query> }>('/capacity', { onRequest: viewer, schema: { querystring: query } }, async (req, reply) => {
    let plan: CapacityPlan;
    try {
      plan = await ctx.capacity(parseDuration(req.query.horizon ?? '365d'));
    } catch (e) {
      return reply.code(503).send({ error: 'unavailable', message: `capacity plan needs InfluxDB: ${(e as Error).message}` });
    }
    if (req.query.format === 'markdown') return reply.type('text/markdown; charset=utf-8').send(capacityMarkdown(plan));
    return capacityJson(plan);
  });
}
