import Fastify, { type FastifyInstance } from 'fastify';

/** What the HTTP API reads from the running pipeline. */
export interface PipelineView {
  ready(): { ok: boolean; checks: Record<string, boolean> };
  stats(): unknown;
}

/**
 * The HTTP API. `GET /healthz`: 200 once the pipeline is subscribed and its sink ready (503
 * with the failing checks otherwise). `GET /stats`: the completeness ledger and pipeline state.
 */
export function buildHttp(view: PipelineView): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async (_req, reply) => {
    const r = view.ready();
    return reply.code(r.ok ? 200 : 503).send({ status: r.ok ? 'ok' : 'unavailable', checks: r.checks });
  });
  app.get('/stats', async () => view.stats());
  return app;
}
