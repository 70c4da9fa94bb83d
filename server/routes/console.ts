import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../config/paths.js';

/** The console's own files only: scripts and styles from this origin, data from this API. */
const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Where `npm run build` puts the built console (console/build.mjs). */
export const consoleDir = () => join(packageRoot(), 'dist', 'console');

/**
 * The operator console at `/`: the built single-page app (static files, no token needed to
 * load it; every API call it makes needs one). Without a build, `/` says how to make one.
 */
export function consoleRoutes(app: FastifyInstance, dir = consoleDir()): void {
  app.addHook('onSend', async (_req, reply) => {
    reply.header('content-security-policy', CONSOLE_CSP);
  });
  if (!existsSync(join(dir, 'index.html'))) {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.code(503).type('text/plain; charset=utf-8').send('The console is not built: run npm run build.\n'));
    return;
  }
  void app.register(fastifyStatic, { root: dir, prefix: '/', wildcard: false, index: 'index.html', cacheControl: false, schemaHide: true });
}
