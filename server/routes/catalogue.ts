import type { FastifyInstance } from 'fastify';
import { requireRole } from '../auth.js';
import type { ApiContext } from '../context.js';

/** `GET /catalogue`: the catalogue in force, without its compiled validators or file paths (viewer). */
export function catalogueRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const viewer = requireRole(ctx.tokens, 'viewer');
  app.get('/catalogue', { onRequest: viewer }, async () => {
    const c = ctx.catalogue();
    return {
      version: c.version,
      divisions: [...c.divisions.values()],
      entries: c.entries.map(({ validate: _v, fieldTypes: _f, file: _file, ...e }) => e),
    };
  });
}
