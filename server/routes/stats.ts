import type { FastifyInstance } from 'fastify';
import { requireRole } from '../auth.js';
import type { ApiContext } from '../context.js';
import { statsFor } from '../views/overview.js';

/** `GET /stats`: the pipeline's running totals (viewer), incident counts within the caller's clearance. */
export function statsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  app.get('/stats', { onRequest: viewer }, async (req) => statsFor(ctx, req.caller));
}
