import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { IncidentManager } from '../alerts/incidents.js';
import type { SubscriptionStore } from '../alerts/subscriptions.js';
import type { CapacityPlan } from '../capacity/planner.js';
import type { Catalogue } from '../config/catalogue.js';
import type { ApiToken } from './auth.js';
import { capacityRoutes } from './routes/capacity.js';
import { incidentRoutes } from './routes/incidents.js';
import { subscriptionRoutes } from './routes/subscriptions.js';

/** What the HTTP API reads from and acts on in the running pipeline. */
export interface ApiContext {
  ready(): { ok: boolean; checks: Record<string, boolean> };
  stats(): unknown;
  catalogue(): Catalogue;
  incidents: IncidentManager;
  subscriptions: SubscriptionStore;
  tokens(): ApiToken[];
  metrics: Registry;
  /** The capacity plan over the given horizon (reads InfluxDB; rejects when it cannot). */
  capacity(horizonMs: number): Promise<CapacityPlan>;
}

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

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = ctx.ready();
    return reply.code(r.ok ? 200 : 503).send({ status: r.ok ? 'ready' : 'unavailable', checks: r.checks });
  });
  app.get('/metrics', async (_req, reply) => reply.type(ctx.metrics.contentType).send(await ctx.metrics.metrics()));
  app.register(async (api) => {
    incidentRoutes(api, ctx);
    subscriptionRoutes(api, ctx);
    capacityRoutes(api, ctx);
  });
  return app;
}
