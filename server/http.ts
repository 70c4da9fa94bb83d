import Fastify, { type FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { capacityRoutes } from './routes/capacity.js';
import { catalogueRoutes } from './routes/catalogue.js';
import { healthRoutes } from './routes/health.js';
import { incidentRoutes } from './routes/incidents.js';
import { statsRoutes } from './routes/stats.js';
import { subscriptionRoutes } from './routes/subscriptions.js';

/**
 * The HTTP API (SPEC 9). Open: `/healthz` (alive), `/readyz` (subscribed and able to store),
 * `/metrics` (Prometheus). Every other endpoint needs a bearer token: viewer to read, operator to
 * acknowledge and resolve incidents, admin to change subscriptions. Bodies are validated by their
 * JSON Schema; a bad one gets 400 naming the field.
 */
export function buildHttp(ctx: ApiContext): FastifyInstance {
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false }, plugins: [] },
  });
  app.setErrorHandler((err: Error & { validation?: { instancePath: string; params: Record<string, unknown> }[]; validationContext?: string; statusCode?: number }, _req, reply) => {
    if (err.validation) {
      const v = err.validation[0];
      const extra = (v.params.additionalProperty ?? v.params.missingProperty) as string | undefined;
      const field = `${err.validationContext ?? 'body'}${v.instancePath}${extra ? `/${extra}` : ''}`;
      return reply.code(400).send({ error: 'bad_request', field, message: `${err.validationContext ?? 'body'}${v.instancePath} ${err.message.replace(/^\S+ /, '')}` });
    }
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    return reply.code(status).send({ error: status === 500 ? 'internal' : 'bad_request', message: err.message });
  });

  healthRoutes(app, ctx);
  app.register(async (api) => {
    statsRoutes(api, ctx);
    catalogueRoutes(api, ctx);
    incidentRoutes(api, ctx);
    subscriptionRoutes(api, ctx);
    capacityRoutes(api, ctx);
  });
  return app;
}
