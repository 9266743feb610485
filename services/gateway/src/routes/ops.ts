import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Readiness } from '@farmbrain/platform';
import * as R from '../http/responses.js';
import { errorResponses } from '../http/schemas.js';

export type OpsRoutesOptions = {
  /** What is up and what is degraded: kept by a background monitor, read at once on every request. */
  readiness: () => Readiness;
};

/** Liveness and readiness probes. */
export const opsRoutes: FastifyPluginAsyncTypebox<OpsRoutesOptions> = async (app, { readiness }) => {
  app.get('/healthz', {
    schema: { tags: ['ops'], summary: 'Liveness', response: { 200: R.Health, ...errorResponses() } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', {
    schema: {
      tags: ['ops'], summary: 'Readiness: which dependencies answer (NATS, Redis, Postgres) and whether the memory index has loaded; answers at once',
      response: { 200: R.Readiness, 503: { ...R.Readiness, description: 'not ready: the checks say what is down' }, ...errorResponses() },
    },
  }, async (_req, reply) => {
    const r = readiness();
    return reply.status(r.status === 'ready' ? 200 : 503).send(r);
  });
};
