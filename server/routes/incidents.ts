import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FromSchema } from 'json-schema-to-ts';
import { IncidentError } from '../../alerts/incidents.js';
import { incidentReport, incidentReportMarkdown } from '../../alerts/report.js';
import { CATEGORIES, type Level } from '../../core/anomaly.js';
import type { Incident } from '../../alerts/incident.js';
import { cleared, requireRole } from '../auth.js';
import type { IncidentContext } from '../context.js';

const actionBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    note: { type: 'string', maxLength: 4000 },
    reported: { type: 'boolean', description: 'The incident has been reported to the authority (meets the report-by deadline).' },
  },
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { enum: ['open', 'acknowledged', 'resolved', 'unresolved'], description: 'unresolved: open or acknowledged.' },
    sort: { enum: ['opened', 'level'], description: 'opened (default): newest first; level: most severe first, then newest.' },
    maxLevel: { type: 'string', pattern: '^[1-4]$' },
    category: { enum: [...CATEGORIES] },
    sector: { type: 'string' },
    region: { type: 'string', description: 'A division code; a city code (ending 00) also matches its counties.' },
    overdue: { enum: ['true', 'false'] },
    offset: { type: 'string', pattern: '^\\d+$' },
    limit: { type: 'string', pattern: '^\\d+$' },
  },
} as const;

const reportQuery = { type: 'object', additionalProperties: false, properties: { format: { enum: ['json', 'md', 'markdown'] } } } as const;

/** The HTTP status of each incident error; the body's `error` is the kind itself. */
const STATUS: Record<IncidentError['kind'], 404 | 409> = { not_found: 404, conflict: 409 };

type ListQuery = FromSchema<typeof listQuery>;

const CHAIN_REUSE_MS = 10_000;

/**
 * Incidents: list, show and report with viewer; acknowledge, resolve and mark reported (`POST /incidents/:id/reported`) with operator. A caller
 * sees only incidents about data graded within its clearance; any other is "not found", like
 * one that does not exist, so its existence is not revealed either.
 */
export function incidentRoutes(app: FastifyInstance, ctx: IncidentContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  const operator = requireRole(ctx.tokens, 'operator');
  const inc = ctx.incidents;
  /** The incident, if the request's caller is cleared for it; else IncidentError not_found. */
  const visible = (req: FastifyRequest, id: string): Incident => {
    const i = inc.get(id);
    if (!cleared(req.caller, i.grade)) throw new IncidentError('not_found', `no incident ${id}`);
    return i;
  };
  const errors = (e: unknown, reply: FastifyReply) => {
    if (e instanceof IncidentError) return reply.code(STATUS[e.kind]).send({ error: e.kind, message: e.message });
    throw e;
  };

  app.get<{ Querystring: ListQuery }>('/incidents', { onRequest: viewer, schema: { querystring: listQuery } }, async (req) => {
    const q = req.query;
    const offset = Number(q.offset ?? 0);
    const limit = Math.min(1000, Number(q.limit ?? 100));
    const all = inc.list(
      {
        state: q.state,
        maxLevel: q.maxLevel ? (Number(q.maxLevel) as Level) : undefined,
        category: q.category,
        sector: q.sector,
        region: q.region,
        overdue: q.overdue === undefined ? undefined : q.overdue === 'true',
      },
      0,
      Infinity,
    ).items.filter((i) => cleared(req.caller, i.grade));
    if (q.sort === 'level') all.sort((a, b) => a.level - b.level || b.openedAt - a.openedAt);
    return { total: all.length, offset, limit, items: all.slice(offset, offset + limit) };
  });
  const verify = ctx.verifyChain;
  if (verify) {
    // Reading and hashing the whole log holds the event loop: one check per CHAIN_REUSE_MS at most.
    let last: { at: number; result: ReturnType<typeof verify> } | undefined;
    app.get('/incidents/chain', { onRequest: operator, schema: { description: 'Checks the incident log\'s hash chain and MACs, as `jlpipe incidents verify` does (a result is reused for 10 s). Record counts and the broken record are shown to core-cleared callers only.' } }, async (req) => {
      if (!last || Date.now() - last.at > CHAIN_REUSE_MS) last = { at: Date.now(), result: verify() };
      const r = last.result;
      // The log holds incidents of every grade: its size and a named record are core knowledge.
      return cleared(req.caller, 'core') ? { ...r, checkedAt: last.at } : { ok: r.ok, checkedAt: last.at };
    });
  }
  app.get<{ Params: { id: string } }>('/incidents/:id', { onRequest: viewer }, async (req, reply) => {
    try {
      return visible(req, req.params.id);
    } catch (e) {
      return errors(e, reply);
    }
  });
  app.get<{ Params: { id: string }; Querystring: FromSchema<typeof reportQuery> }>(
    '/incidents/:id/report',
    { onRequest: viewer, schema: { querystring: reportQuery } },
    async (req, reply) => {
      try {
        const i = visible(req, req.params.id);
        const md = req.query.format === 'md' || req.query.format === 'markdown' || (!req.query.format && /text\/markdown/.test(req.headers.accept ?? ''));
        return md ? reply.type('text/markdown; charset=utf-8').send(incidentReportMarkdown(i)) : incidentReport(i);
      } catch (e) {
        return errors(e, reply);
      }
    },
  );
  for (const action of ['ack', 'resolve', 'reported'] as const) {
    app.post<{ Params: { id: string }; Body: FromSchema<typeof actionBody> }>(
      `/incidents/:id/${action}`,
      {
        onRequest: operator,
        // A bare POST (no body) is a plain acknowledgement or resolution.
        preValidation: async (req) => {
          req.body ??= {};
        },
        schema: { body: actionBody },
      },
      async (req, reply) => {
        const body = req.body ?? {};
        try {
          const by = req.caller!.name;
          visible(req, req.params.id);
          if (action === 'reported') return inc.report(req.params.id, by, body.note);
          return action === 'ack' ? inc.acknowledge(req.params.id, by, body.note, body.reported) : inc.resolve(req.params.id, by, body.note, body.reported);
        } catch (e) {
          return errors(e, reply);
        }
      },
    );
  }
}
