import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { packageVersion } from '../config/paths.js';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { ApiContext } from './context.js';
import { capacityRoutes } from './routes/capacity.js';
import { catalogueRoutes } from './routes/catalogue.js';
import { consoleRoutes } from './routes/console.js';
import { consoleDataRoutes } from './routes/console-data.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { incidentRoutes } from './routes/incidents.js';
import { statsRoutes } from './routes/stats.js';
import { subscriptionRoutes } from './routes/subscriptions.js';

/** How long requests under way may still finish when the server closes. */
const CLOSE_GRACE_MS = 2000;

/**
 * The HTTP API (SPEC 9). Open: `/healthz` (alive), `/readyz` (subscribed and able to store),
 * `/metrics` (Prometheus). Every other endpoint needs a bearer token: viewer to read, operator to
 * acknowledge and resolve incidents, admin to change subscriptions. Bodies are validated by their
 * JSON Schema; a bad one gets 400 naming the field. Every response carries security headers
 * (helmet) and `cache-control: no-store`: answers are live state, often behind a token.
 */
export function buildHttp(ctx: ApiContext): FastifyInstance {
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false }, plugins: [] },
    // A URL that cannot be decoded is refused before any hook runs: the same headers by hand.
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply)
        .code(400)
        .headers({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none';frame-ancestors 'none'" })
        .send({ error: 'bad_request', message: err.message });
    },
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

  // Registered first, so its onRequest hook runs before authentication: 401, 403, 404 and
  // errors carry the headers too. Nothing here is HTML: no sources, no framing. HSTS belongs
  // to whatever terminates TLS in front of the API.
  void app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  });
  app.addHook('onRequest', async (_req, reply) => {
    reply.header('cache-control', 'no-store');
  });
  // On close, requests under way get CLOSE_GRACE_MS to finish; then every connection is cut, so a
  // client that holds one (an event stream's keep-alive socket, a stalled request) cannot hold
  // up the pipeline's stop.
  app.addHook('preClose', async () => {
    setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref();
  });

  // The API described: OpenAPI 3 generated from the routes' own schemas, at /openapi.json, and
  // Swagger UI at /docs (its own files only: the CSP there allows 'self' and nothing else).
  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Digital Jilin IoT pipeline API', version: packageVersion(), description: 'Health, statistics, catalogue, incidents, alert subscriptions and capacity. /healthz, /readyz and /metrics are open; everything else needs `Authorization: Bearer <token>` (roles viewer, operator, admin).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token (api.tokens in the config; without any, the admin token in <dataDir>/api-token).' } } },
      security: [{ bearer: [] }],
    },
  });
  void app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformStaticCSP: () => "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
    uiConfig: { docExpansion: 'list', deepLinking: false },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // The console's files, in their own plugin: its CSP (own scripts and styles) applies to them only.
  app.register(async (ui) => consoleRoutes(ui));
  // In a plugin, like the others, so swagger (registered above) sees these routes too.
  app.register(async (open) => healthRoutes(open, ctx));
  app.register(async (api) => {
    statsRoutes(api, ctx);
    eventRoutes(api, ctx);
    consoleDataRoutes(api, ctx);
    catalogueRoutes(api, ctx);
    const { incidents, subscriptions, capacity } = ctx;
    if (incidents && subscriptions) {
      incidentRoutes(api, { ...ctx, incidents, subscriptions });
      subscriptionRoutes(api, { ...ctx, incidents, subscriptions });
    }
    if (capacity) capacityRoutes(api, { ...ctx, capacity });
  });
  return app;
}
