import { stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../http/errorHandler.js';

export type DashboardRoutesOptions = {
  /** The built dashboard (FB_DASHBOARD_DIR): index.html and assets/. */
  dir: string;
};

/** Paths the dashboard never answers: the API, its docs, MCP and the probes keep their own 404s. */
const API = /^\/(?:v1|docs|mcp|healthz|readyz)(?:[/?#]|$)/;
/** Vite's content-hashed output: never changes under its name. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const NOT_BUILT = 'the dashboard is not built: run `npm run build` in the farmbrain repository (it builds apps/dashboard into apps/dashboard/dist/web), '
  + 'or set FB_DASHBOARD_DIR to a built dashboard, then reload. The API is at /v1 and its docs at /docs.';

const notBuiltHtml = (dir: string) => `<!doctype html><meta charset="utf-8"><title>farmbrain</title>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>farmbrain</h1><p>The dashboard is not built (no <code>${dir.replace(/[<>&]/g, '')}/index.html</code>).</p>
<p>Run <code>npm run build</code> in the farmbrain repository, then reload. Or set <code>FB_DASHBOARD_DIR</code> to a built dashboard.</p>
<p>The API is served meanwhile: <a href="/docs">/docs</a>, <a href="/healthz">/healthz</a>.</p></body>`;

/** A regular file inside `dir` named by the URL path `rel`, or undefined (outside it, missing, or a directory). */
async function fileIn(dir: string, rel: string): Promise<string | undefined> {
  if (rel === '' || rel.includes('\0')) return undefined;
  const full = resolve(dir, `.${sep}${rel}`);
  if (!full.startsWith(dir + sep)) return undefined;
  const s = await stat(full).catch(() => undefined);
  return s?.isFile() ? full.slice(dir.length + 1) : undefined;
}

/**
 * The built dashboard at `/`: its files (hashed `/assets/*` cached for a year, everything else revalidated),
 * and index.html for any other GET that is not the API's (the dashboard routes in the browser). `/v1/*`,
 * `/docs`, `/mcp` and the probes are untouched: an unknown API path is still the JSON 404. Without a build,
 * `/` says how to make one.
 */
export const dashboardRoutes: FastifyPluginAsyncTypebox<DashboardRoutesOptions> = async (app, o) => {
  const dir = resolve(o.dir);
  await app.register(fastifyStatic, { root: dir, serve: false, cacheControl: false, etag: true, lastModified: true });

  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '/';
    if (API.test(path)) return reply.callNotFound();
    const rel = (req.params as { '*'?: string })['*'] ?? '';
    const file = await fileIn(dir, rel);
    if (file) {
      reply.header('cache-control', file.startsWith(`assets${sep}`) ? IMMUTABLE : 'no-cache');
      return reply.sendFile(file);
    }
    // A missing file (a script, an image): a 404, not the page. Anything else is a route of the dashboard.
    if (extname(rel) !== '' && extname(rel) !== '.html') return reply.callNotFound();
    if (!(await fileIn(dir, 'index.html'))) {
      const html = (req.headers.accept ?? '').includes('text/html');
      reply.status(503).header('cache-control', 'no-cache');
      return html ? reply.type('text/html; charset=utf-8').send(notBuiltHtml(dir)) : reply.send(errorBody('DASHBOARD_NOT_BUILT', NOT_BUILT));
    }
    reply.header('cache-control', 'no-cache');
    return reply.sendFile('index.html');
  };
  app.get('/', { schema: { hide: true } }, page);
  app.get('/*', { schema: { hide: true } }, page);
};
