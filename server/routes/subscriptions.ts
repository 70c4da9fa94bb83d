import type { FastifyInstance } from 'fastify';
import { subscriptionInputSchema, type SubscriptionInput as Input } from '../../alerts/subscription.js';
import { redactSubscription } from '../../alerts/subscriptions.js';
import { requireRole } from '../auth.js';
import type { ApiContext } from '../context.js';

/** Subscriptions CRUD: read with viewer (secrets masked), change with admin. */
export function subscriptionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  const admin = requireRole(ctx.tokens, 'admin');
  const store = ctx.subscriptions;
  const notFound = (id: string) => ({ error: 'not_found', message: `no subscription ${id}` });

  app.get('/subscriptions', { onRequest: viewer }, async () => store.list().map(redactSubscription));
  app.get<{ Params: { id: string } }>('/subscriptions/:id', { onRequest: viewer }, async (req, reply) => {
    const s = store.get(req.params.id);
    return s ? redactSubscription(s) : reply.code(404).send(notFound(req.params.id));
  });
  app.post<{ Body: Input }>('/subscriptions', { onRequest: admin, schema: { body: subscriptionInputSchema } }, async (req, reply) => {
    return reply.code(201).send(redactSubscription(store.create(req.body)));
  });
  app.put<{ Params: { id: string }; Body: Input }>('/subscriptions/:id', { onRequest: admin, schema: { body: subscriptionInputSchema } }, async (req, reply) => {
    const s = store.replace(req.params.id, req.body);
    return s ? redactSubscription(s) : reply.code(404).send(notFound(req.params.id));
  });
  app.delete<{ Params: { id: string } }>('/subscriptions/:id', { onRequest: admin }, async (req, reply) => {
    return store.delete(req.params.id) ? reply.code(204).send() : reply.code(404).send(notFound(req.params.id));
  });
}
