import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FromSchema } from 'json-schema-to-ts';
import { GRADE_RANK, type Grade } from '../core/catalogue.js';

/** JSON Schema of a configured API token (pipeline.yaml `api.tokens` items). */
export const apiTokenSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'role', 'sha256'],
  properties: {
    name: { type: 'string', minLength: 1 },
    role: { enum: ['viewer', 'operator', 'admin'] },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    clearance: {
      enum: ['general', 'important', 'core'],
      description: 'Highest data grade the token may learn about (incidents, reports, counts). Default: general for viewer, core for operator and admin.',
    },
  },
} as const;

/** A configured API token: only its sha256 is kept (config and memory), never the token. */
export type ApiToken = FromSchema<typeof apiTokenSchema>;
export type Role = ApiToken['role'];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * Clearance of a token that names none. Viewer tokens are handed out widely (read-only tools,
 * wall screens), so they learn only of general data unless cleared. Operators must see every
 * incident they acknowledge and report (keeping configs without the field working), and an
 * admin can give itself any clearance through a subscription anyway.
 */
export const DEFAULT_CLEARANCE: Record<Role, Grade> = { viewer: 'general', operator: 'core', admin: 'core' };

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** Who made a request, once authenticated. */
export interface Caller {
  name: string;
  role: Role;
  clearance: Grade;
}

/** Whether the caller may learn of something about data of `grade` (never without a caller). */
export const cleared = (caller: Caller | undefined, grade: Grade): boolean => caller !== undefined && GRADE_RANK[grade] <= GRADE_RANK[caller.clearance];

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

/**
 * A pre-handler that requires a bearer token of at least `role`: 401 without a valid token,
 * 403 when the token's role is too low.
 */
export function requireRole(tokens: () => ApiToken[], role: Role) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a bearer token is required' });
    const h = Buffer.from(hashToken(m[1]), 'hex');
    const t = tokens().find((t) => timingSafeEqual(Buffer.from(t.sha256, 'hex'), h));
    if (!t) return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'unauthorized', message: 'unknown token' });
    if (RANK[t.role] < RANK[role]) return reply.code(403).send({ error: 'forbidden', message: `role ${t.role} may not do this; ${role} required` });
    req.caller = { name: t.name, role: t.role, clearance: t.clearance ?? DEFAULT_CLEARANCE[t.role] };
  };
}
