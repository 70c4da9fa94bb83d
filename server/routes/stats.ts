import type { FastifyInstance } from 'fastify';
import { cleared, requireRole } from '../auth.js';
import type { ApiContext } from '../context.js';

/**
 * `GET /stats`: the pipeline's running totals (viewer). Its incident counts cover only the
 * incidents the caller is cleared for: counting the others would reveal what `/incidents` hides.
 */
export function statsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  app.get('/stats', { onRequest: viewer }, async (req) => {
    const stats = ctx.stats();
    if (!stats || typeof stats !== 'object' || !('incidents' in stats) || !ctx.incidents) return stats;
    const counts: Record<string, number> = { open: 0, acknowledged: 0, resolved: 0, overdue: 0 };
    for (const i of ctx.incidents.all()) {
      if (!cleared(req.caller, i.grade)) continue;
      counts[i.state]++;
      if (i.overdue) counts.overdue++;
    }
    return { ...stats, incidents: counts };
  });
}
