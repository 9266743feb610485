import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { isConnectionFailure, type Logger, type Readiness } from '@farmbrain/platform';
import { FarmbrainError, MEMORY_KINDS, SCOPES } from '@farmbrain/contracts';
import { DEPENDENCY_CODES, NotFoundError, STATUS_OF, UnknownAgentError } from './http/errors.js';
import * as R from './http/responses.js';
import { AgentParams, Enum, errorResponses, Id, IntQuery, TimeQuery } from './http/schemas.js';
import { rejectNonFinite, validationFailed, ValidationFailedError, type SchemaError } from './http/validation.js';
import type { ReadStore } from './read/readStore.js';
import { EventsBodySchema, EventsRejectedError, type EventWriter } from './write/eventsIn.js';
import { registerMcp } from './mcp/mcpServer.js';
import { registerMemoryRoutes } from './memory/routes.js';
import { registerDeadLetterRoutes } from './deadLetters/routes.js';
import type { DeadLetterStore } from './deadLetters/deadLetterStore.js';
import type { MemoryApi } from './memory/types.js';

export interface AppDeps {
  reads: ReadStore;
  writer: EventWriter;
  memory: MemoryApi;
  /** What is up and what is degraded (NATS, Redis, Postgres, the memory index): kept by a background monitor, read at once. */
  readiness: () => Readiness;
  deadLetters: DeadLetterStore;
  log: Logger;
  maxEventsPerRequest: number;
  bodyLimitBytes: number;
}

const PageQs = {
  from: Type.Optional(TimeQuery('inclusive')),
  to: Type.Optional(TimeQuery('exclusive')),
  limit: Type.Optional(IntQuery(1, 1000, 50, 'items per page')),
  cursor: Type.Optional(Type.String({ maxLength: 1024, pattern: '^[A-Za-z0-9_-]*$', description: 'nextCursor of the previous page' })),
};
/** Filter values: compared with stored identifiers, so plain text of bounded length. */
const Filter = (description?: string) => Type.Optional(Id(256, description ? { description } : {}));

const errorBody = (code: string, message: string) => ({ error: { code, message } });

/**
 * Malformed HTTP that never reaches a route (an oversized header block, a
 * broken request line): answered in the same error shape, then the socket closes.
 */
function clientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify(status === 431
    ? errorBody('REQUEST_HEADERS_TOO_LARGE', 'the request line and headers are too large; send long parameters in a POST body or shorten the query string')
    : errorBody('BAD_REQUEST', `malformed HTTP request (${err.code ?? err.message})`));
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Builds the gateway (no listen): health, OpenAPI, reads across tiers, and the HTTP write path. */
export async function buildApp(d: AppDeps) {
  const app = Fastify({
    loggerInstance: d.log,
    bodyLimit: d.bodyLimitBytes,
    disableRequestLogging: true,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
    // A URL fastify cannot route (bad percent-encoding, ...): the same error shape as everything else.
    frameworkErrors: (err: FastifyError, _req: FastifyRequest, reply: FastifyReply) =>
      reply.status(400).send(errorBody('BAD_REQUEST', err.message)),
    clientErrorHandler: clientError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      info: { title: 'farmbrain gateway', version: '0.1.0', description: 'Memory for fleets of AI trading agents.' },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((errIn: FastifyError | FarmbrainError | Error, req, reply) => {
    const fe = errIn as FastifyError;
    const err = fe.validation ? validationFailed(req, fe.validationContext, fe.validation as SchemaError[]) : errIn;
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send(errorBody('PAYLOAD_TOO_LARGE', `body is larger than ${d.bodyLimitBytes} bytes; send fewer events per request`));
    }
    if (!(err instanceof FarmbrainError) && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      // fastify's own request errors (media type, unparsable or empty JSON body, ...).
      return reply.status(400).send(errorBody('BAD_REQUEST', err.message));
    }
    if (err instanceof FarmbrainError) {
      const status = STATUS_OF[err.code] ?? 500;
      // A dependency outage is logged once per change of state by the health monitor, not per request.
      if (DEPENDENCY_CODES.has(err.code)) req.log.debug({ err }, 'request failed: dependency unavailable');
      else if (status >= 500) req.log.error({ err }, 'request failed');
      const details = err instanceof EventsRejectedError ? err.issues : err instanceof ValidationFailedError ? err.details : undefined;
      return reply.status(status).send({ error: { code: err.code, message: err.message, ...(details ? { details } : {}) } });
    }
    if (isConnectionFailure(err)) {
      req.log.debug({ err }, 'request failed: dependency unavailable');
      return reply.status(503).send(errorBody('SERVICE_UNAVAILABLE', 'a backing service did not answer; retry shortly (GET /readyz shows which)'));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('INTERNAL', 'internal error; see the gateway log'));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url.length > 200 ? `${req.url.slice(0, 200)}…` : req.url}; see /docs`)),
  );
  // After schema validation, on every route: no Infinity/NaN gets through coercion (see http/validation.ts).
  app.addHook('preHandler', rejectNonFinite);

  app.get('/healthz', {
    schema: { tags: ['ops'], summary: 'Liveness', response: { 200: R.Health, ...errorResponses() } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', {
    schema: {
      tags: ['ops'], summary: 'Readiness: which dependencies answer (NATS, Redis, Postgres) and whether the memory index has loaded; answers at once',
      response: { 200: R.Readiness, 503: { ...R.Readiness, description: 'not ready: the checks say what is down' }, ...errorResponses() },
    },
  }, async (_req, reply) => {
    const r = d.readiness();
    return reply.status(r.status === 'ready' ? 200 : 503).send(r);
  });

  app.get('/v1/agents', {
    schema: {
      tags: ['agents'], summary: 'List agents, by id',
      querystring: Type.Object({ team: Filter(), limit: PageQs.limit, cursor: PageQs.cursor }),
      response: { 200: R.AgentsPage, ...errorResponses(400, 503) },
    },
  }, async (req) => d.reads.listAgents(req.query));

  app.get('/v1/agents/:agentId', {
    schema: {
      tags: ['agents'], summary: "An agent's current state (Redis hot tier first, then Postgres)", params: AgentParams,
      response: { 200: R.AgentState, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => {
    // No directory check first: a complete hot copy answers even while Postgres is down.
    const s = await d.reads.agentState(req.params.agentId);
    if (!s) throw new UnknownAgentError(req.params.agentId);
    return s as never;
  });

  app.get('/v1/agents/:agentId/decisions', {
    schema: {
      tags: ['history'], summary: 'Decisions, newest first', params: AgentParams,
      querystring: Type.Object({ ...PageQs, symbol: Filter() }),
      response: { 200: R.DecisionsPage, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => (await d.reads.decisions(req.params.agentId, req.query)) as never);

  app.get('/v1/agents/:agentId/trades', {
    schema: {
      tags: ['history'], summary: 'Trades, newest first', params: AgentParams,
      querystring: Type.Object({ ...PageQs, symbol: Filter(), decisionId: Filter('trades of this decision') }),
      response: { 200: R.TradesPage, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => (await d.reads.trades(req.params.agentId, req.query)) as never);

  app.get('/v1/agents/:agentId/positions', {
    schema: {
      tags: ['history'], summary: 'Positions (open and closed), newest first', params: AgentParams,
      querystring: Type.Object({ ...PageQs, symbol: Filter(), status: Type.Optional(Enum(['open', 'closed'] as const)) }),
      response: { 200: R.PositionsPage, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => (await d.reads.positions(req.params.agentId, req.query)) as never);

  app.get('/v1/agents/:agentId/checkpoints', {
    schema: {
      tags: ['checkpoints'], summary: 'Checkpoints (without state), newest first', params: AgentParams,
      querystring: Type.Object({ ...PageQs, label: Filter() }),
      response: { 200: R.CheckpointsPage, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => (await d.reads.checkpoints(req.params.agentId, req.query)) as never);

  app.get('/v1/agents/:agentId/checkpoints/:checkpointId', {
    schema: {
      tags: ['checkpoints'], summary: 'One checkpoint with its state bytes (base64)',
      params: Type.Object({ agentId: AgentParams.properties.agentId, checkpointId: Id(64, { description: 'event id of the checkpoint_saved event' }) }),
      response: { 200: R.CheckpointWithState, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => {
    const c = await d.reads.checkpoint(req.params.agentId, req.params.checkpointId);
    if (!c) throw new NotFoundError('checkpoint', req.params.checkpointId);
    return c as never;
  });

  app.get('/v1/agents/:agentId/memories', {
    schema: {
      tags: ['memories'], summary: "An agent's memories, newest first", params: AgentParams,
      querystring: Type.Object({
        ...PageQs, kind: Type.Optional(Enum(MEMORY_KINDS)), scope: Type.Optional(Enum(SCOPES)), tag: Filter('memories carrying this tag'),
        includeForgotten: Type.Optional(Type.Boolean()),
      }),
      response: { 200: R.MemoriesPage, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => (await d.reads.memories(req.params.agentId, req.query)) as never);

  app.post('/v1/events', {
    schema: {
      tags: ['write'],
      summary: 'Record events over HTTP (for agents that cannot speak NATS): same validation, same log',
      description: 'All events are validated before any is published. 202 means JetStream stored them; projections follow within milliseconds.',
      body: EventsBodySchema,
      response: { 202: R.Accepted, ...errorResponses(400, 413, 503) },
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
  registerDeadLetterRoutes(app, d.deadLetters);
  registerMcp(app, d.memory, { log: d.log });

  return app;
}

export type GatewayApp = Awaited<ReturnType<typeof buildApp>>;
