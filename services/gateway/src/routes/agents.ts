import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { MEMORY_KINDS, SCOPES } from '@farmbrain/contracts';
import { NotFoundError, UnknownAgentError } from '../http/errors.js';
import * as R from '../http/responses.js';
import { AgentParams, Enum, errorResponses, Id, IntQuery, TimeQuery } from '../http/schemas.js';
import type { ReadStore } from '../read/readStore.js';

/** What the agent routes read: an agent's state and its listings (Redis hot tier, then Postgres). */
export type AgentReads = Pick<ReadStore, 'listAgents' | 'agentState' | 'decisions' | 'trades' | 'positions' | 'checkpoints' | 'checkpoint' | 'memories'>;

export type AgentRoutesOptions = {
  /**
   * Read at request time, never at registration: the gateway passes a proxy that resolves to the live
   * projection version's store at each property access (live/following.ts), so `reads.method(...)` is
   * called inside each handler and no method or object of it is kept.
   */
  reads: AgentReads;
};

const PageQs = {
  from: Type.Optional(TimeQuery('inclusive')),
  to: Type.Optional(TimeQuery('exclusive')),
  limit: Type.Optional(IntQuery(1, 1000, 50, 'items per page')),
  cursor: Type.Optional(Type.String({ maxLength: 1024, pattern: '^[A-Za-z0-9_-]*$', description: 'nextCursor of the previous page' })),
};
/** Filter values: compared with stored identifiers, so plain text of bounded length. */
const Filter = (description?: string) => Type.Optional(Id(256, description ? { description } : {}));

/**
 * Reads of agents across the tiers: the directory, an agent's current state, and its decisions, trades,
 * positions, checkpoints and memories, newest first. The row mappers of @farmbrain/store type times as
 * `string | null` and enums as `string`, where the response schemas (what the serializer writes) are
 * exact, hence the `as never` on those replies.
 */
export const agentRoutes: FastifyPluginAsyncTypebox<AgentRoutesOptions> = async (app, { reads }) => {
  app.get('/v1/agents', {
    schema: {
      tags: ['agents'], summary: 'List agents, by id',
      querystring: Type.Object({ team: Filter(), limit: PageQs.limit, cursor: PageQs.cursor }),
      response: { 200: R.AgentsPage, ...errorResponses(400, 503) },
    },
  }, async (req) => reads.listAgents(req.query));

  app.get('/v1/agents/:agentId', {
    schema: {
      tags: ['agents'], summary: "An agent's current state (Redis hot tier first, then Postgres)", params: AgentParams,
      response: { 200: R.AgentState, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => {
    // No directory check first: a complete hot copy answers even while Postgres is down.
    const s = await reads.agentState(req.params.agentId);
    if (!s) throw new UnknownAgentError(req.params.agentId);
    return s as never;
  });

  app.get('/v1/agents/:agentId/decisions', {
    schema: {
      tags: ['history'], summary: 'Decisions, newest first', params: AgentParams,
      querystring: Type.Object({ ...PageQs, symbol: Filter() }),
      response: { 200: R.DecisionsPage, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => (await reads.decisions(req.params.agentId, req.query)) as never);

  app.get('/v1/agents/:agentId/trades', {
    schema: {
      tags: ['history'], summary: 'Trades, newest first', params: AgentParams,
      querystring: Type.Object({ ...PageQs, symbol: Filter(), decisionId: Filter('trades of this decision') }),
      response: { 200: R.TradesPage, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => (await reads.trades(req.params.agentId, req.query)) as never);

  app.get('/v1/agents/:agentId/positions', {
    schema: {
      tags: ['history'], summary: 'Positions (open and closed), newest first', params: AgentParams,
      querystring: Type.Object({ ...PageQs, symbol: Filter(), status: Type.Optional(Enum(['open', 'closed'] as const)) }),
      response: { 200: R.PositionsPage, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => (await reads.positions(req.params.agentId, req.query)) as never);

  app.get('/v1/agents/:agentId/checkpoints', {
    schema: {
      tags: ['checkpoints'], summary: 'Checkpoints (without state), newest first', params: AgentParams,
      querystring: Type.Object({ ...PageQs, label: Filter() }),
      response: { 200: R.CheckpointsPage, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => (await reads.checkpoints(req.params.agentId, req.query)) as never);

  app.get('/v1/agents/:agentId/checkpoints/:checkpointId', {
    schema: {
      tags: ['checkpoints'], summary: 'One checkpoint with its state bytes (base64)',
      params: Type.Object({ agentId: AgentParams.properties.agentId, checkpointId: Id(64, { description: 'event id of the checkpoint_saved event' }) }),
      response: { 200: R.CheckpointWithState, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => {
    const c = await reads.checkpoint(req.params.agentId, req.params.checkpointId);
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
  }, async (req) => (await reads.memories(req.params.agentId, req.query)) as never);
};
