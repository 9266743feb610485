import { Type } from 'typebox';
import { MEMORY_KINDS, SCOPES } from '@farmbrain/contracts';
import type { MemoryApi } from './types.js';

const Enum = (vals: readonly string[]) => Type.Union(vals.map((v) => Type.Literal(v)));
const Time = () => Type.Union([Type.Integer({ minimum: 0 }), Type.String()], { description: 'epoch ms or ISO 8601' });
const Token = () => Type.String({ maxLength: 2048, description: 'consistencyToken of a write: the read waits (bounded) until it is applied' });
const AgentId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
const Tags = () => Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 });
const Vector = () => Type.Array(Type.Number(), { maxItems: 4096 });
const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const WriteResult = Type.Object({ memoryId: Type.String(), eventId: Type.String(), consistencyToken: Type.String() });

const Filters = {
  scopes: Type.Optional(Type.Array(Enum(SCOPES), { description: "default: every scope the agent can read (its own, its teams', the fleet's)" })),
  kinds: Type.Optional(Type.Array(Enum(MEMORY_KINDS))),
  tags: Type.Optional(Type.Array(Type.String(), { description: 'memory must carry all of these' })),
  anyTags: Type.Optional(Type.Array(Type.String(), { description: 'memory must carry at least one of these' })),
  since: Type.Optional(Time()),
  until: Type.Optional(Time()),
  minImportance: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
};

export const RememberBody = Type.Object({
  kind: Enum(MEMORY_KINDS),
  text: Type.String({ minLength: 1 }),
  tags: Type.Optional(Tags()),
  importance: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  embedding: Type.Optional(Vector()),
  embeddingModel: Type.Optional(Type.String({ maxLength: 128 })),
  situation: Type.Optional(Vector()),
  scope: Type.Optional(Enum(SCOPES)),
  scopeId: Type.Optional(Type.String({ maxLength: 64 })),
  expiresAt: Type.Optional(Time()),
  sourceEventIds: Type.Optional(Type.Array(Type.String(), { maxItems: 256 })),
  memoryId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
}, { additionalProperties: false });

const PatchBody = Type.Object({
  text: Type.Optional(Type.String({ minLength: 1 })),
  tags: Type.Optional(Tags()),
  replaceTags: Type.Optional(Type.Boolean()),
  importance: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  embedding: Type.Optional(Vector()),
  embeddingModel: Type.Optional(Type.String({ maxLength: 128 })),
  expiresAt: Type.Optional(Type.Union([Time(), Type.Null()])),
  consistency: Type.Optional(Token()),
}, { additionalProperties: false });

const RecallBody = Type.Object({
  query: Type.Optional(Type.String({ maxLength: 4096 })),
  vector: Type.Optional(Vector()),
  embeddingModel: Type.Optional(Type.String({ maxLength: 128, description: "model of `vector` (default 'client')" })),
  k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  weights: Type.Optional(Type.Object({
    vector: Type.Optional(Type.Number({ minimum: 0 })), text: Type.Optional(Type.Number({ minimum: 0 })),
    recency: Type.Optional(Type.Number({ minimum: 0 })), importance: Type.Optional(Type.Number({ minimum: 0 })),
  }, { additionalProperties: false })),
  consistency: Type.Optional(Token()),
  correlationId: Type.Optional(Type.String({ maxLength: 128 })),
  ...Filters,
}, { additionalProperties: false });

const SimilarBody = Type.Object({
  situation: Type.Array(Type.Number(), { minItems: 1, maxItems: 4096 }),
  symbol: Type.Optional(Type.String({ maxLength: 64 })),
  k: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 10 })),
  includeTeam: Type.Optional(Type.Boolean()),
  includeOpen: Type.Optional(Type.Boolean()),
  since: Type.Optional(Time()),
  until: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String()])),
  consistency: Type.Optional(Token()),
}, { additionalProperties: false });

interface Routable {
  post: (...a: never[]) => unknown;
}

/** REST routes of the memory API (the MCP tools call the same MemoryApi). */
export function registerMemoryRoutes<A extends Routable>(appIn: A, api: MemoryApi): void {
  // The app's type provider makes per-route generics heavy to spell; the schemas below are the contract.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const app = appIn as any;
  const params = Type.Object({ agentId: AgentId });
  const memParams = Type.Object({ agentId: AgentId, memoryId: Type.String({ minLength: 1, maxLength: 128 }) });

  app.post('/v1/agents/:agentId/memories', {
    schema: {
      tags: ['memories'], summary: 'Remember: store a memory (published as a memory_stored event)',
      description: 'Team and fleet scopes need the agent to be a writer of that scope (FB_SCOPE_POLICY), else 403 SCOPE_FORBIDDEN. '
        + 'Pass the returned consistencyToken to a read to see this write (read-your-writes).',
      params, body: RememberBody, response: { 201: WriteResult, 400: ErrorBody, 403: ErrorBody },
    },
  }, async (req: { params: { agentId: string }; body: Parameters<MemoryApi['remember']>[1] }, reply: { status(n: number): { send(b: unknown): unknown } }) =>
    reply.status(201).send(await api.remember(req.params.agentId, req.body)));

  app.patch('/v1/agents/:agentId/memories/:memoryId', {
    schema: {
      tags: ['memories'], summary: 'Update a memory (memory_updated event; its version goes up, older versions stay readable)',
      params: memParams, body: PatchBody, response: { 200: WriteResult, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
    },
  }, async (req: { params: { agentId: string; memoryId: string }; body: Parameters<MemoryApi['update']>[2] & { consistency?: string } }) =>
    api.update(req.params.agentId, req.params.memoryId, req.body));

  app.delete('/v1/agents/:agentId/memories/:memoryId', {
    schema: {
      tags: ['memories'], summary: 'Forget a memory (memory_forgotten event; what the agent knew before stays provable)',
      params: memParams,
      querystring: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1024 })), consistency: Type.Optional(Token()) }),
      response: { 200: WriteResult, 404: ErrorBody, 409: ErrorBody },
    },
  }, async (req: { params: { agentId: string; memoryId: string }; query: { reason?: string; consistency?: string } }) =>
    (api as MemoryApi & { forget(a: string, m: string, r?: string, c?: string): Promise<unknown> })
      .forget(req.params.agentId, req.params.memoryId, req.query.reason ?? '', req.query.consistency));

  app.post('/v1/agents/:agentId/recall', {
    schema: {
      tags: ['recall'], summary: "Recall: hybrid search over the agent's own and shared memories",
      description: 'Fuses Postgres full-text relevance, vector similarity (HNSW), recency and importance by reciprocal-rank fusion. '
        + 'Each hit shows its score parts and the tier it was served from. The recall is recorded as a memory_recalled event (recallId) '
        + 'for decision provenance. Without query and vector, returns the filtered memories ranked by recency and importance.',
      params, body: RecallBody, response: { 200: Type.Unknown(), 400: ErrorBody, 503: ErrorBody },
    },
  }, async (req: { params: { agentId: string }; body: Parameters<MemoryApi['recall']>[1] }) => api.recall(req.params.agentId, req.body));

  app.post('/v1/agents/:agentId/recall/decisions', {
    schema: {
      tags: ['recall'], summary: 'Outcome-linked recall: the most similar past decisions and how they turned out',
      description: 'Nearest past decisions by Euclidean distance between situation vectors, each with its realized P&L, win/loss and '
        + 'holding time, plus win rate, mean and spread of P&L over the neighbours.',
      params, body: SimilarBody, response: { 200: Type.Unknown(), 400: ErrorBody },
    },
  }, async (req: { params: { agentId: string }; body: Parameters<MemoryApi['similarDecisions']>[1] }) =>
    api.similarDecisions(req.params.agentId, req.body));

  app.get('/v1/agents/:agentId/decisions/:decisionId/context', {
    schema: {
      tags: ['recall'], summary: 'Decision provenance: what the agent had recalled, and the cited memories as they were then',
      params: Type.Object({ agentId: AgentId, decisionId: Type.String({ maxLength: 64 }) }),
      querystring: Type.Object({ consistency: Type.Optional(Token()) }),
      response: { 200: Type.Unknown(), 404: ErrorBody },
    },
  }, async (req: { params: { agentId: string; decisionId: string }; query: { consistency?: string } }) =>
    api.decisionContext(req.params.agentId, req.params.decisionId, req.query.consistency));
}
