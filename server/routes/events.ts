import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Grade } from '../../core/catalogue.js';
import { requireRole, type Caller } from '../auth.js';
import type { ApiContext } from '../context.js';
import { overviewFor } from '../views/overview.js';

/** Streams open at once, in all and per token: one token (a wall screen left open in many tabs) cannot take every slot. */
const MAX_STREAMS = 64;
const MAX_PER_TOKEN = 8;
const EVERY_MS = 1000;
/** Seconds of message totals kept, so a console opened now draws the last five minutes at once. */
const HISTORY = 300;

/** Messages received so far, from the stats of any role (0 when they have no totals). */
const receivedOf = (stats: unknown): number => (stats as { totals?: { received?: number } } | undefined)?.totals?.received ?? 0;

/**
 * `GET /events` (viewer): Server-Sent Events for the console: `history` at once (messages
 * received, sampled every second over the last five minutes), then an `overview` at once and
 * every second (see overviewFor). The overview depends on the caller's clearance only, so
 * each tick computes it once per clearance and every stream shares it: the cost does not grow
 * with the number of browsers. A peer that does not read (its socket buffer full) is skipped
 * until it drains, never buffered without bound; a failure to build the overview ends that
 * stream (the console reconnects), never the process. Streams end when the server closes.
 */
export function eventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  const streams = new Map<ServerResponse, string>();
  const shared = new Map<Grade, { at: number; text: string }>();
  const overviewText = (caller: Caller): string => {
    const now = Date.now();
    let s = shared.get(caller.clearance);
    if (!s || now - s.at >= EVERY_MS / 2) shared.set(caller.clearance, (s = { at: now, text: `event: overview\ndata: ${JSON.stringify(overviewFor(ctx, caller))}\n\n` }));
    return s.text;
  };
  const history: { at: number; received: number }[] = [];
  const sampler = setInterval(() => {
    history.push({ at: Date.now(), received: receivedOf(ctx.stats()) });
    if (history.length > HISTORY) history.shift();
  }, EVERY_MS).unref();
  app.addHook('preClose', async () => {
    clearInterval(sampler);
    // The socket too: once ended, a keep-alive connection goes idle a moment later, after
    // server.close() has already closed the idle ones, and would hold close() open.
    for (const s of streams.keys()) {
      s.end();
      s.socket?.destroy();
    }
  });
  app.get('/events', { onRequest: viewer, schema: { description: 'Server-Sent Events: `history` (messages received per second, last 5 minutes) once, then `overview` every second (totals, readiness, devices online, open incidents by level, incident list version).' } }, async (req, reply) => {
    const caller = req.caller!;
    const mine = [...streams.values()].filter((n) => n === caller.name).length;
    if (streams.size >= MAX_STREAMS || mine >= MAX_PER_TOKEN) {
      return reply.code(429).header('retry-after', '10').send({ error: 'busy', message: mine >= MAX_PER_TOKEN ? `token ${caller.name} has ${mine} event streams open` : `${streams.size} event streams are open` });
    }
    const res = reply.raw;
    reply.hijack();
    // The headers set so far (security headers, no-store) go out with the stream's own.
    res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    streams.set(res, caller.name);
    // The totals of the last minutes (no incident or device in them: no clearance applies).
    res.write(`event: history\ndata: ${JSON.stringify(history)}\n\n`);
    let blocked = false;
    const send = () => {
      if (blocked || res.writableEnded) return;
      let text: string;
      try {
        text = overviewText(caller);
      } catch {
        res.end();
        return;
      }
      blocked = !res.write(text);
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
