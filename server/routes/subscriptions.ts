import type { FastifyInstance, FastifyReply } from 'fastify';
import { EgressRefused, redactUrl } from '../../alerts/egress.js';
import { subscriptionInputSchema, type SubscriptionInput as Input } from '../../alerts/subscription.js';
import { redactSubscription } from '../../alerts/subscriptions.js';
import { requireRole } from '../auth.js';
import type { IncidentContext } from '../context.js';

/**
 * Subscriptions CRUD: read with viewer (secrets and URL credentials masked), change with admin.
 * A webhook URL the egress policy refuses is a 400 naming the rule.
 */
export function subscriptionRoutes(app: FastifyInstance, ctx: IncidentContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  const admin = requireRole(ctx.tokens, 'admin');
  const store = ctx.subscriptions;
  const notFound = (id: string) => ({ error: 'not_found', message: `no subscription ${id}` });
  const refused = (e: unknown, body: Input, reply: FastifyReply) => {
    if (!(e instanceof EgressRefused) || body.channel.type !== 'webhook') throw e;
    return reply.code(400).send({ error: 'bad_request', field: 'body/channel/url', message: `body/channel/url ${redactUrl(body.channel.url)} ${e.message}` });
  };

  app.get('/subscriptions', { onRequest: viewer }, async () => store.list().map(redactSubscription));
  app.get<{ Params: { id: string } }>('/subscriptions/:id', { onRequest: viewer }, async (req, reply) => {
    const s = store.get(req.params.id);
    return s ? redactSubscription(s) : reply.code(404).send(notFound(req.params.id));
  });
  app.post<{ Body: Input }>('/subscriptions', { onRequest: admin, schema: { body: subscriptionInputSchema } }, async (req, reply) => {
    return store.create(req.body).then(
      (s) => reply.code(201).send(redactSubscription(s)),
      (e) => refused(e, req.body, reply),
    );
  });
  app.put<{ Params: { id: string }; Body: Input }>('/subscriptions/:id', { onRequest: admin, schema: { body: subscriptionInputSchema } }, async (req, reply) => {
    return store.replace(req.params.id, req.body).then(
      (s) => (s ? redactSubscription(s) : reply.code(404).send(notFound(req.params.id))),
      (e) => refused(e, req.body, reply),
    );
  });
  const delivery = ctx.delivery;
  if (delivery) {
    // Admin, like the page that shows it: when alerts reach a subscriber says when incidents of
    // its clearance happen, which a viewer of lower clearance may not learn.
    app.get<{ Params: { id: string } }>('/subscriptions/:id/delivery', { onRequest: admin, schema: { description: 'Delivery status from the outbox (admin): pending, retrying, and since start alerts delivered, checkpoints delivered, dropped, the last error.' } }, async (req, reply) => {
      return store.get(req.params.id) ? delivery.status(req.params.id) : reply.code(404).send(notFound(req.params.id));
    });
    app.post<{ Params: { id: string } }>('/subscriptions/:id/test', { onRequest: admin, schema: { description: 'Sends a test alert through the outbox (event "test", no incident).' } }, async (req, reply) => {
      const s = store.get(req.params.id);
      return s ? reply.code(202).send({ alertId: delivery.sendTest(s, req.caller!.name) }) : reply.code(404).send(notFound(req.params.id));
    });
  }
  app.delete<{ Params: { id: string } }>('/subscriptions/:id', { onRequest: admin }, async (req, reply) => {
    return store.delete(req.params.id) ? reply.code(204).send() : reply.code(404).send(notFound(req.params.id));
  });
}
