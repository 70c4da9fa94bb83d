import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

/**
 * The open endpoints (no token): `/healthz` (the process answers), `/readyz` (200 when
 * `ctx.ready()` says ok, else 503, with its checks and any detail) and `/metrics` (Prometheus text).
 */
export function healthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = ctx.ready();
    return reply.code(r.ok ? 200 : 503).send({ status: r.ok ? 'ready' : 'unavailable', checks: r.checks, ...(r.detail ? { detail: r.detail } : {}) });
  });
  app.get('/metrics', async (_req, reply) => reply.type(ctx.metrics.contentType).send(await ctx.metrics.metrics()));
}
