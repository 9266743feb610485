import Fastify, { type FastifyError } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@farmbrain/platform';
import { FarmbrainError } from '@farmbrain/contracts';
import { NotFoundError, STATUS_OF } from './http/errors.js';
import type { ReadStore } from './read/readStore.js';
import { EventsBodySchema, EventsRejectedError, type EventWriter } from './write/eventsIn.js';
import { registerMcp } from './mcp/mcpServer.js';
import { registerMemoryRoutes } from './memory/routes.js';
import type { MemoryApi } from './memory/types.js';

export interface AppDeps {
  reads: ReadStore;
  writer: EventWriter;
  memory: MemoryApi;
  /** Extra readiness checks (e.g. the vector index has loaded). */
  ready?: () => Record<string, boolean>;
  nc: NatsConnection;
  log: Logger;
  maxEventsPerRequest: number;
  bodyLimitBytes: number;
}

const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }),
});
const AgentParams = Type.Object({ agentId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });
const PageQs = {
  from: Type.Optional(Type.String({ description: 'ISO 8601 or epoch ms, inclusive' })),
  to: Type.Optional(Type.String({ description: 'ISO 8601 or epoch ms, exclusive' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
};
const Page = Type.Object({ items: Type.Array(Type.Unknown()), nextCursor: Type.Union([Type.String(), Type.Null()]) });

/** Builds the gateway (no listen): health, OpenAPI, reads across tiers, and the HTTP write path. */
export async function buildApp(d: AppDeps) {
  const app = Fastify({
    loggerInstance: d.log,
    bodyLimit: d.bodyLimitBytes,
    disableRequestLogging: true,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      info: { title: 'farmbrain gateway', version: '0.1.0', description: 'Memory for fleets of AI trading agents.' },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((err: FastifyError | FarmbrainError | Error, req, reply) => {
    if ((err as FastifyError).validation) {
      return reply.status(400).send({ error: { code: 'VALIDATION_FAILED', message: `request ${err.message}`, details: (err as FastifyError).validation } });
    }
    const fe = err as FastifyError;
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send({ error: { code: 'PAYLOAD_TOO_LARGE', message: `body is larger than ${d.bodyLimitBytes} bytes; send fewer events per request` } });
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fe.statusCode === 400) {
      return reply.status(400).send({ error: { code: 'BAD_REQUEST', message: err.message } });
    }
    if (err instanceof FarmbrainError) {
      const status = STATUS_OF[err.code] ?? 500;
      if (status >= 500) req.log.error({ err }, 'request failed');
      const details = err instanceof EventsRejectedError ? err.issues : undefined;
      return reply.status(status).send({ error: { code: err.code, message: err.message, ...(details ? { details } : {}) } });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error; see the gateway log' } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}; see /docs` } }),
  );

  app.get('/healthz', { schema: { tags: ['ops'], summary: 'Liveness' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['ops'], summary: 'Readiness: NATS, Redis and Postgres answer' } }, async (_req, reply) => {
    const [stores, nats] = await Promise.all([
      d.reads.ready(),
      d.nc.isClosed() ? Promise.resolve(false) : d.nc.flush().then(() => true, () => false),
    ]);
    const checks = { nats, ...stores, ...d.ready?.() };
    const ok = Object.values(checks).every(Boolean);
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', checks });
  });

  app.get('/v1/agents', {
    schema: { tags: ['agents'], summary: 'List agents', querystring: Type.Object({ team: Type.Optional(Type.String()), limit: PageQs.limit, cursor: PageQs.cursor }), response: { 200: Page } },
  }, async (req) => d.reads.listAgents(req.query));

  app.get('/v1/agents/:agentId', {
    schema: { tags: ['agents'], summary: "An agent's current state (Redis hot tier first, then Postgres)", params: AgentParams, response: { 200: Type.Unknown(), 404: ErrorBody } },
  }, async (req) => {
    const s = await d.reads.agentState(req.params.agentId);
    if (!s) throw new NotFoundError('agent', req.params.agentId);
    return s;
  });

  app.get('/v1/agents/:agentId/decisions', {
    schema: { tags: ['history'], summary: 'Decisions, newest first', params: AgentParams, querystring: Type.Object({ ...PageQs, symbol: Type.Optional(Type.String()) }), response: { 200: Page } },
  }, async (req) => d.reads.decisions(req.params.agentId, req.query));

  app.get('/v1/agents/:agentId/trades', {
    schema: { tags: ['history'], summary: 'Trades, newest first', params: AgentParams, querystring: Type.Object({ ...PageQs, symbol: Type.Optional(Type.String()), decisionId: Type.Optional(Type.String()) }), response: { 200: Page } },
  }, async (req) => d.reads.trades(req.params.agentId, req.query));

  app.get('/v1/agents/:agentId/positions', {
    schema: { tags: ['history'], summary: 'Positions (open and closed), newest first', params: AgentParams, querystring: Type.Object({ ...PageQs, symbol: Type.Optional(Type.String()), status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')])) }), response: { 200: Page } },
  }, async (req) => d.reads.positions(req.params.agentId, req.query));

  app.get('/v1/agents/:agentId/checkpoints', {
    schema: { tags: ['checkpoints'], summary: 'Checkpoints (without state), newest first', params: AgentParams, querystring: Type.Object({ ...PageQs, label: Type.Optional(Type.String()) }), response: { 200: Page } },
  }, async (req) => d.reads.checkpoints(req.params.agentId, req.query));

  app.get('/v1/agents/:agentId/checkpoints/:checkpointId', {
    schema: { tags: ['checkpoints'], summary: 'One checkpoint with its state bytes (base64)', params: Type.Object({ agentId: AgentParams.properties.agentId, checkpointId: Type.String() }), response: { 200: Type.Unknown(), 404: ErrorBody } },
  }, async (req) => {
    const c = await d.reads.checkpoint(req.params.agentId, req.params.checkpointId);
    if (!c) throw new NotFoundError('checkpoint', req.params.checkpointId);
    return c;
  });

  app.get('/v1/agents/:agentId/memories', {
    schema: {
      tags: ['memories'], summary: "An agent's memories, newest first", params: AgentParams,
      querystring: Type.Object({ ...PageQs, kind: Type.Optional(Type.String()), scope: Type.Optional(Type.String()), tag: Type.Optional(Type.String()), includeForgotten: Type.Optional(Type.Boolean()) }),
      response: { 200: Page },
    },
  }, async (req) => d.reads.memories(req.params.agentId, req.query));

  app.post('/v1/events', {
    schema: {
      tags: ['write'],
      summary: 'Record events over HTTP (for agents that cannot speak NATS): same validation, same log',
      description: 'All events are validated before any is published. 202 means JetStream stored them; projections follow within milliseconds.',
      body: EventsBodySchema,
      response: { 202: Type.Object({ accepted: Type.Array(Type.Unknown()) }), 400: ErrorBody },
    },
  }, async (req, reply) => {
    if (req.body.events.length > d.maxEventsPerRequest) {
      throw new FarmbrainError('BAD_REQUEST', `a request may carry at most ${d.maxEventsPerRequest} events; got ${req.body.events.length}`);
    }
    const events = d.writer.toEvents(req.body.events as Parameters<EventWriter['toEvents']>[0]);
    const accepted = await d.writer.publish(events);
    return reply.status(202).send({ accepted });
  });

  registerMemoryRoutes(app, d.memory);
  registerMcp(app, d.memory, { log: d.log });

  return app;
}

export type GatewayApp = Awaited<ReturnType<typeof buildApp>>;
