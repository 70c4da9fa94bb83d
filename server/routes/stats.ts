import type { FastifyInstance } from 'fastify';
import { requireRole } from '../auth.js';
import type { ApiContext } from '../context.js';

/** `GET /stats`: the pipeline's running totals (viewer). */
export function statsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  app.get('/stats', { onRequest: viewer }, async () => ctx.stats());
}
