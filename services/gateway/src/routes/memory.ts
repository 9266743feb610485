import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { MEMORY_KINDS, SCOPES, SITUATION_BOUND } from '@farmbrain/contracts';
import * as R from '../http/responses.js';
import { AgentId, Enum, errorResponses, Id, Int, IntQuery, Num, Text, TimeIn, Token, Vector } from '../http/schemas.js';
import type { MemoryApi } from '../memory/types.js';

const Tags = () => Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 });
/** Tag filters: compared with stored tags in Postgres, so plain text. */
const TagFilter = (description: string) => Type.Array(Id(256), { maxItems: 64, description });
const Importance = () => Num(0, 1, { description: '0..1' });

const Filters = {
  scopes: Type.Optional(Type.Array(Enum(SCOPES), { maxItems: 3, description: "default: every scope the agent can read (its own, its teams', the fleet's)" })),
  kinds: Type.Optional(Type.Array(Enum(MEMORY_KINDS), { maxItems: 5 })),
  tags: Type.Optional(TagFilter('memory must carry all of these')),
  anyTags: Type.Optional(TagFilter('memory must carry at least one of these')),
  since: Type.Optional(TimeIn('created at or after')),
  until: Type.Optional(TimeIn('created before')),
  minImportance: Type.Optional(Importance()),
};

// Write bodies bound their numbers here; the text of what is stored (memory text, tags, ids) is
// checked by the event validator (contracts validateEvent) the SDK and ingest share.
export const RememberBody = Type.Object({
  kind: Enum(MEMORY_KINDS),
  text: Type.String({ minLength: 1 }),
  tags: Type.Optional(Tags()),
  importance: Type.Optional(Importance()),
  embedding: Type.Optional(Vector(4096)),
  embeddingModel: Type.Optional(Type.String({ maxLength: 128 })),
  situation: Type.Optional(Vector(4096, SITUATION_BOUND)),
  scope: Type.Optional(Enum(SCOPES)),
  scopeId: Type.Optional(Type.String({ maxLength: 64 })),
  expiresAt: Type.Optional(TimeIn('when it stops being recalled; absent: never')),
  sourceEventIds: Type.Optional(Type.Array(Type.String(), { maxItems: 256 })),
  memoryId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
}, { additionalProperties: false });

const PatchBody = Type.Object({
  text: Type.Optional(Type.String({ minLength: 1 })),
  tags: Type.Optional(Tags()),
  replaceTags: Type.Optional(Type.Boolean()),
  importance: Type.Optional(Importance()),
  embedding: Type.Optional(Vector(4096)),
  embeddingModel: Type.Optional(Type.String({ maxLength: 128 })),
  expiresAt: Type.Optional(Type.Union([TimeIn(), Type.Null()], { description: '0 or null clears the expiry' })),
  consistency: Type.Optional(Token()),
}, { additionalProperties: false });

const Weight = () => Type.Optional(Num(0, 1000));
const RecallBody = Type.Object({
  query: Type.Optional(Text(4096)),
  vector: Type.Optional(Vector(4096)),
  embeddingModel: Type.Optional(Id(128, { description: "model of `vector` (default 'client')" })),
  k: Type.Optional(Int(1, 100, { default: 10 })),
  weights: Type.Optional(Type.Object({ vector: Weight(), text: Weight(), recency: Weight(), importance: Weight() }, {
    additionalProperties: false, description: 'defaults: vector 1, text 1, recency 0.3, importance 0.3',
  })),
  consistency: Type.Optional(Token()),
  correlationId: Type.Optional(Id(128)),
  ...Filters,
}, { additionalProperties: false });

const SimilarBody = Type.Object({
  situation: Vector(4096, SITUATION_BOUND, { minItems: 1 }),
  symbol: Type.Optional(Id(64)),
  k: Type.Optional(Int(1, 200, { default: 10 })),
  includeTeam: Type.Optional(Type.Boolean()),
  includeOpen: Type.Optional(Type.Boolean()),
  since: Type.Optional(TimeIn('decided at or after')),
  until: Type.Optional(TimeIn('decided before')),
  consistency: Type.Optional(Token()),
}, { additionalProperties: false });

const ConsolidateBody = Type.Object({
  dryRun: Type.Optional(Type.Boolean({ description: 'plan only: nothing is published' })),
  threshold: Type.Optional(Num(0, 1, { description: 'cosine similarity at or above which two memories are near-duplicates (default 0.9)' })),
  minTagOverlap: Type.Optional(Num(0, 1, { description: 'least Jaccard overlap of their tags (default 0.75)' })),
  kinds: Type.Optional(Type.Array(Enum(MEMORY_KINDS), { maxItems: 5 })),
  consistency: Type.Optional(Token()),
}, { additionalProperties: false });

const EraseBody = Type.Object({
  reason: Type.String({ minLength: 1, maxLength: 1024, description: 'why (kept in the erasure log: never put the content here)' }),
  operator: Id(128, { description: 'who erases (kept in the erasure log)' }),
}, { additionalProperties: false });

export type MemoryRoutesOptions = {
  /**
   * Called at request time, never at registration: the gateway passes a proxy that resolves to the live
   * projection version's memory API at each property access (live/following.ts), so `memory.method(...)`
   * is called inside each handler and no method of it is kept.
   */
  memory: MemoryApi;
};

/** REST routes of the memory API (the MCP tools call the same MemoryApi). */
export const memoryRoutes: FastifyPluginAsyncTypebox<MemoryRoutesOptions> = async (app, { memory }) => {
  const params = Type.Object({ agentId: AgentId });
  const memParams = Type.Object({ agentId: AgentId, memoryId: Id(128) });

  app.post('/v1/agents/:agentId/memories', {
    schema: {
      tags: ['memories'], summary: 'Remember: store a memory (published as a memory_stored event)',
      description: 'Team and fleet scopes need the agent to be a writer of that scope (FB_SCOPE_POLICY), else 403 SCOPE_FORBIDDEN. '
        + 'Pass the returned consistencyToken to a read to see this write (read-your-writes).',
      params, body: RememberBody, response: { 201: R.WriteResult, ...errorResponses(400, 403, 413, 503) },
    },
  }, async (req, reply) =>
    reply.status(201).send(await memory.remember(req.params.agentId, req.body)));

  app.patch('/v1/agents/:agentId/memories/:memoryId', {
    schema: {
      tags: ['memories'], summary: 'Update a memory (memory_updated event; its version goes up, older versions stay readable)',
      params: memParams, body: PatchBody, response: { 200: R.WriteResult, ...errorResponses(400, 403, 404, 409, 413, 503) },
    },
  }, async (req) =>
    memory.update(req.params.agentId, req.params.memoryId, req.body));

  app.delete('/v1/agents/:agentId/memories/:memoryId', {
    schema: {
      tags: ['memories'], summary: 'Forget a memory (memory_forgotten event; what the agent knew before stays provable)',
      params: memParams,
      querystring: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1024 })), consistency: Type.Optional(Token()) }),
      response: { 200: R.WriteResult, ...errorResponses(400, 403, 404, 409, 503) },
    },
  }, async (req) =>
    memory.forget(req.params.agentId, req.params.memoryId, req.query.reason ?? '', req.query.consistency));

  app.post('/v1/agents/:agentId/recall', {
    schema: {
      tags: ['recall'], summary: "Recall: hybrid search over the agent's own and shared memories",
      description: 'Fuses Postgres full-text relevance, vector similarity (HNSW), recency and importance by reciprocal-rank fusion. '
        + 'Each hit shows its score parts and the tier it was served from. The recall is recorded as a memory_recalled event (recallId) '
        + 'for decision provenance. Without query and vector, returns the filtered memories ranked by recency and importance.',
      params, body: RecallBody, response: { 200: R.RecallResponse, ...errorResponses(400, 404, 413, 503) },
    },
  }, async (req) => memory.recall(req.params.agentId, req.body));

  app.post('/v1/agents/:agentId/recall/decisions', {
    schema: {
      tags: ['recall'], summary: 'Outcome-linked recall: the most similar past decisions and how they turned out',
      description: 'Nearest past decisions by Euclidean distance between situation vectors, each with its realized P&L, win/loss and '
        + 'holding time, plus win rate, mean and spread of P&L over the neighbours.',
      params, body: SimilarBody, response: { 200: R.SimilarDecisionsResponse, ...errorResponses(400, 404, 413, 503) },
    },
  }, async (req) =>
    memory.similarDecisions(req.params.agentId, req.body));

  app.get('/v1/agents/:agentId/decisions/:decisionId/context', {
    schema: {
      tags: ['recall'], summary: 'Decision provenance: what the agent had recalled, and the cited memories as they were then',
      params: Type.Object({ agentId: AgentId, decisionId: Id(64, { description: 'event id of the decision_made event' }) }),
      querystring: Type.Object({ consistency: Type.Optional(Token()) }),
      response: { 200: R.DecisionContext, ...errorResponses(400, 404, 503) },
    },
  }, async (req) =>
    memory.decisionContext(req.params.agentId, req.params.decisionId, req.query.consistency));

  app.post('/v1/agents/:agentId/memories/consolidate', {
    schema: {
      tags: ['memories'], summary: "Consolidate the agent's near-duplicate memories into canonical ones (an operator action; dryRun previews)",
      description: 'Memories of one kind and owner whose embeddings are at least `threshold` similar and whose tags overlap enough merge into one '
        + 'canonical memory (evidence count, merged ids, time span). Its text is the most representative original\'s, or a summary when '
        + 'FB_SUMMARY_URL is set. The originals leave recall and stay readable by id; decisions that cited them keep their provenance. '
        + 'Without dryRun the merges are published (memory_stored of each canonical, then memories_consolidated); pass consistencyToken to a read to see them.',
      params, body: ConsolidateBody, response: { 200: R.ConsolidateResponse, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => memory.consolidate(req.params.agentId, req.body));

  app.post('/v1/agents/:agentId/memories/:memoryId/erase', {
    schema: {
      tags: ['memories'], summary: 'Erase a memory from every store (an operator action, logged without the content)',
      description: "Destroys the memory's key (every copy of the log, the archive and backups of them hold only its ciphertext), publishes memory_erased "
        + '(tiering removes the text, tags and embedding from the row, every version snapshot and Redis), and deletes the ingress and dead-letter '
        + 'messages that held it in the clear. Consolidated memories derived from it are erased with it. Answers once applied.',
      params: memParams, body: EraseBody, response: { 200: R.EraseResult, ...errorResponses(400, 403, 404, 503) },
    },
  }, async (req) => memory.erase(req.params.agentId, req.params.memoryId, req.body));

  app.get('/v1/erasures', {
    schema: {
      tags: ['memories'], summary: 'The erasure log: who erased which memory, when and why (never the content), newest first',
      querystring: Type.Object({
        agentId: Type.Optional(AgentId),
        limit: Type.Optional(IntQuery(1, 500, 50)),
        cursor: Type.Optional(Type.String({ maxLength: 300, description: 'nextCursor of the previous page' })),
      }, { additionalProperties: false }),
      response: { 200: R.ErasuresPage, ...errorResponses(400, 503) },
    },
  }, async (req) => memory.erasures(req.query));
};
