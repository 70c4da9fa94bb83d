import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { requireRole } from '../auth.js';
import type { ApiContext } from '../context.js';
import { overviewFor } from '../views/overview.js';

/** Streams open at once; past this, 429 (each costs a timer and an overview a second). */
const MAX_STREAMS = 64;
const EVERY_MS = 1000;

/**
 * `GET /events` (viewer): Server-Sent Events for the console. An `overview` event at once and
 * then every second (see overviewFor), a comment line as keep-alive in between. A peer that
 * does not read (its socket buffer full) is skipped until it drains, never buffered without
 * bound. Streams are ended when the server closes, so shutdown does not wait for browsers.
 */
export function eventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    // The socket too: once ended, a keep-alive connection goes idle a moment later, after
    // server.close() has already closed the idle ones, and would hold close() open.
    for (const s of streams) {
      s.end();
      s.socket?.destroy();
    }
  });
  app.get('/events', { onRequest: viewer, schema: { description: 'Server-Sent Events: `overview` every second (totals, readiness, devices online, open incidents by level, incident list version).' } }, async (req, reply) => {
    if (streams.size >= MAX_STREAMS) return reply.code(429).header('retry-after', '10').send({ error: 'busy', message: `${streams.size} event streams are open` });
    const res = reply.raw;
    reply.hijack();
    // The headers set so far (security headers, no-store) go out with the stream's own.
    res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    streams.add(res);
    let blocked = false;
    const send = () => {
      if (blocked || res.writableEnded) return;
      blocked = !res.write(`event: overview\ndata: ${JSON.stringify(overviewFor(ctx, req.caller))}\n\n`);
      if (blocked) res.once('drain', () => (blocked = false));
    };
    send();
    const timer = setInterval(send, EVERY_MS);
    res.on('close', () => {
      clearInterval(timer);
      streams.delete(res);
    });
  });
}
