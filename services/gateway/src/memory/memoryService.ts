import { ERASED_MEMDOC, memdocKey } from '@farmbrain/store';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { decayed, decayPart, type DecayPolicy } from '@farmbrain/lifecycle';
import type { Redis } from 'ioredis';
import {
  consistencyTokenOf,
  FarmbrainError,
  parseInstant,
  partitionOf,
  readableOwnerKeys,
  SCOPES,
  teamsOf,
  writeDenial,
  type ConsolidateRequest,
  type ConsolidateResponse,
  type EraseBody,
  type EraseResult,
  type ErasureView,
  type EventLimits,
  type MemoryTier,
  type Names,
  type Scope,
  type ScopePolicy,
} from '@farmbrain/contracts';
import { eraseEverywhere, normalize, scrubIngress, type Embedder, type Logger, type MemoryKeys, type Pool, type Summarizer } from '@farmbrain/platform';
import type { AgentDirectory } from '../read/agentDirectory.js';
import type { EventWriter } from '../write/eventsIn.js';
import { similarDecisions } from './outcomes.js';
import { decisionContext, type DecisionContextOptions } from './provenance.js';
import type {
  ConsistencyToken,
  DecisionContext,
  MemoryApi,
  MemoryPatch,
  MemoryView,
  RecallHit,
  RecallRequest,
  RecallResponse,
  RememberInput,
  ScoreParts,
  SimilarDecisionsRequest,
  SimilarDecisionsResponse,
  WriteResult,
} from './types.js';
import { allWords, consolidateAgent, dot, orQuery, type IndexSync, type VectorFilter, type VectorIndex } from '@farmbrain/recall';

export interface MemoryServiceDeps {
  pool: Pool;
  redis: Redis;
  names: Names;
  /** The live projection version's Redis key prefix (where the recalled-memory cache lives). */
  redisPrefix: string;
  writer: EventWriter;
  index: VectorIndex;
  sync: IndexSync;
  embedder: Embedder;
  scopes: ScopePolicy;
  log: Logger;
  /** Seconds a recalled memory's content stays in the Redis hot tier. */
  hotTtlSeconds: number;
  /**
   * Seconds the content of a memory promoted to hot (memories.tier, set by the lifecycle policy's moves) stays
   * in Redis: the memory policy's hotIdleMinutes. Default: hotTtlSeconds.
   */
  pinnedTtlSeconds?: number;
  /** Most memories a text-only candidate search looks at before ranking. */
  textScanCap: number;
  /** Which agents exist (reads of an unknown agent answer UNKNOWN_AGENT). */
  agents: AgentDirectory;
  /** Records by id in any tier: a decision's context when the lifecycle moved it (and its recalls) into blocks. */
  records?: NonNullable<DecisionContextOptions['records']>;
  /** The lifecycle policy's memory decay: when enabled, recall scores fade with age since the last recall. */
  decay?: DecayPolicy;
  /** Consolidation writes summaries with it when set (else keeps the most representative original's text). */
  summarizer?: Summarizer;
  /** The deployment's event limits (what consolidation publishes is checked against them). */
  limits?: EventLimits;
  /** Erasure: the memory keys, and JetStream (to publish memory_erased and scrub the ingress copies). Without them, erase answers SERVICE_UNAVAILABLE. */
  erasure?: { keys: MemoryKeys; js: JetStreamClient; jsm: () => Promise<JetStreamManager> };
}

/** Reciprocal-rank fusion constant (Cormack et al.): damps the head of each ranking. */
const RRF_K = 60;
const DEFAULT_WEIGHTS = { vector: 1, text: 1, recency: 0.3, importance: 0.3 };

const invalid = (message: string) => new FarmbrainError('INVALID_REQUEST', message);

/** Epoch ms of a time input (epoch ms or ISO, checked by the contract's parseInstant); undefined stays undefined. */
const toMillis = (name: string, v: number | string | null | undefined): number | undefined => parseInstant(name, v)?.getTime();


/** The recall filters, as SQL over $3..$8 (kinds, all tags, any tags, since, until, min importance). */
const FILTER_SQL = `AND forgotten_at IS NULL AND consolidated_into IS NULL AND (expires_at IS NULL OR expires_at > now())
  AND ($3::text[] IS NULL OR kind = ANY($3)) AND ($4::text[] IS NULL OR tags @> $4) AND ($5::text[] IS NULL OR tags && $5)
  AND ($6::bigint IS NULL OR created_at >= to_timestamp($6 / 1000.0)) AND ($7::bigint IS NULL OR created_at < to_timestamp($7 / 1000.0))
  AND importance >= $8`;

interface TextRow { memory_id: string; version: number; importance: number; created: number; relevance: number | null }

interface Candidate {
  memoryId: string;
  version: number;
  createdAt: number;
  importance: number;
  similarity: number | null;
  textRelevance: number | null;
}

interface MemoryRow {
  memory_id: string; agent_id: string; kind: MemoryView['kind']; text: string; tags: string[]; importance: number;
  scope: Scope; scope_id: string; version: number; created: number; updated: number; expires: number | null; embedding_model: string;
  merged_ids: string[]; evidence_count: number; span_from: number | null; span_to: number | null; consolidation_method: string; representative_id: string;
  /** warm, or hot (promoted: its cached content is kept for the memory policy's hotIdleMinutes). */
  tier: string;
}

const viewOf = (r: MemoryRow): MemoryView => ({
  memoryId: r.memory_id, agentId: r.agent_id, kind: r.kind, text: r.text, tags: r.tags, importance: r.importance, scope: r.scope,
  scopeId: r.scope_id, version: r.version, createdAt: r.created, updatedAt: r.updated, expiresAt: r.expires, embeddingModel: r.embedding_model,
  ...(r.merged_ids.length > 0 ? {
    consolidation: {
      evidence: r.evidence_count, mergedIds: r.merged_ids, spanFrom: Number(r.span_from ?? r.created), spanTo: Number(r.span_to ?? r.created),
      method: r.consolidation_method, representativeId: r.representative_id,
    },
  } : {}),
});

/** A cached view, or undefined when the entry is not one (then Postgres serves it). */
const parseView = (raw: string): MemoryView | undefined => {
  try {
    const v = JSON.parse(raw) as MemoryView | null;
    return v && typeof v === 'object' && typeof v.version === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
};

const VIEW_COLUMNS = `memory_id, agent_id, kind, text, tags, importance, scope, scope_id, version, embedding_model,
  (extract(epoch from created_at) * 1000)::bigint AS created, (extract(epoch from updated_at) * 1000)::bigint AS updated,
  (extract(epoch from expires_at) * 1000)::bigint AS expires, merged_ids, evidence_count, consolidation_method, representative_id,
  (extract(epoch from span_from) * 1000)::bigint AS span_from, (extract(epoch from span_to) * 1000)::bigint AS span_to, tier`;

/** Caches a view unless the entry is an erased memory's tombstone (tiering writes it; a recall racing the erasure must not undo it). */
const MEMDOC_PUT = `if redis.call('GET', KEYS[1]) == ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`;
type MemdocPut = { fbMemdocPut(key: string, view: string, ttl: number, tombstone: string): unknown };

/** The memory API over the log (writes), the warm store, the vector index and the hot tier (reads). */
export class MemoryService implements MemoryApi {
  readonly #teamCache = new Map<string, { team: string; at: number }>();
  readonly #agents: AgentDirectory;

  constructor(private readonly d: MemoryServiceDeps) {
    this.#agents = d.agents;
    if (!('fbMemdocPut' in d.redis)) d.redis.defineCommand('fbMemdocPut', { numberOfKeys: 1, lua: MEMDOC_PUT });
  }

  // ---- writes: events on the log, answered with a consistency token ----

  async remember(agentId: string, input: RememberInput): Promise<WriteResult> {
    const scope = input.scope ?? 'agent';
    const denial = writeDenial(this.d.scopes, agentId, scope, input.scopeId ?? '');
    if (denial) throw new FarmbrainError('SCOPE_FORBIDDEN', denial);
    const data: Record<string, unknown> = { ...input, scope };
    const expiresAt = toMillis('expiresAt', input.expiresAt);
    if (expiresAt === undefined) delete data.expiresAt;
    else data.expiresAt = expiresAt;
    return this.#write(agentId, 'memory_stored', data);
  }

  async update(agentId: string, memoryId: string, patch: MemoryPatch & { consistency?: ConsistencyToken }): Promise<WriteResult> {
    const rejected = await this.d.sync.waitFor(patch.consistency);
    await explained(this.#ownedLive(agentId, memoryId), rejected);
    const { consistency: _c, expiresAt, ...rest } = patch;
    const data: Record<string, unknown> = { ...rest, memoryId };
    if (expiresAt === null || expiresAt === 0) data.expiresAt = 0;
    else if (expiresAt !== undefined) data.expiresAt = toMillis('expiresAt', expiresAt);
    if (Object.keys(data).length === 1) throw invalid('a patch must change something: text, tags, importance, embedding or expiresAt');
    return this.#write(agentId, 'memory_updated', data);
  }

  async forget(agentId: string, memoryId: string, reason = '', consistency?: ConsistencyToken): Promise<WriteResult> {
    const rejected = await this.d.sync.waitFor(consistency);
    await explained(this.#ownedLive(agentId, memoryId), rejected);
    return this.#write(agentId, 'memory_forgotten', { memoryId, reason });
  }

  async #write(agentId: string, type: 'memory_stored' | 'memory_updated' | 'memory_forgotten', data: Record<string, unknown>): Promise<WriteResult> {
    const [event] = this.d.writer.toEvents([{ agentId, type, data }]);
    const [ack] = await this.d.writer.publish([event!]);
    return {
      memoryId: (event!.data as { memoryId: string }).memoryId,
      eventId: event!.eventId,
      consistencyToken: consistencyTokenOf(partitionOf(agentId, this.d.names.partitions), ack!.streamSeq),
    };
  }

  /** Only the agent that stored a memory changes it, and only while it is not forgotten. */
  async #ownedLive(agentId: string, memoryId: string): Promise<void> {
    const r = await this.d.pool.query<{ agent_id: string; forgotten: boolean }>(
      'SELECT agent_id, forgotten_at IS NOT NULL AS forgotten FROM memories WHERE memory_id = $1', [memoryId]);
    const row = r.rows[0];
    if (!row || (row.agent_id !== agentId && !(await this.#canRead(agentId, memoryId)))) {
      throw new FarmbrainError('NOT_FOUND', `memory '${memoryId}' was not found for agent '${agentId}'; if you stored it just now, pass the consistencyToken of that write as 'consistency'`);
    }
    if (row.agent_id !== agentId) throw new FarmbrainError('NOT_OWNER', `memory '${memoryId}' belongs to agent '${row.agent_id}'; only the agent that stored a memory can change or forget it`);
    if (row.forgotten) throw new FarmbrainError('MEMORY_FORGOTTEN', `memory '${memoryId}' is forgotten; store a new memory instead`);
  }

  async #canRead(agentId: string, memoryId: string): Promise<boolean> {
    const keys = readableOwnerKeys(agentId, await this.teams(agentId));
    const r = await this.d.pool.query('SELECT 1 FROM memories WHERE memory_id = $1 AND owner_key = ANY($2)', [memoryId, keys]);
    return r.rowCount === 1;
  }

  // ---- visibility ----

  /** The agent's teams: pinned by the scope policy, else its registration (cached ~1 s). */
  async teams(agentId: string, fresh = false): Promise<string[]> {
    const c = this.#teamCache.get(agentId);
    let team: string;
    if (!fresh && c && Date.now() - c.at < 1000) team = c.team;
    else {
      const r = await this.d.pool.query<{ team: string }>('SELECT team FROM agents WHERE agent_id = $1', [agentId]);
      team = r.rows[0]?.team ?? '';
      if (this.#teamCache.size > 100_000) this.#teamCache.clear();
      this.#teamCache.set(agentId, { team, at: Date.now() });
    }
    return teamsOf(this.d.scopes, agentId, team);
  }

  async #ownerKeys(agentId: string, scopes: readonly Scope[] | undefined, fresh: boolean): Promise<string[]> {
    const want = new Set(scopes && scopes.length > 0 ? scopes : SCOPES);
    return readableOwnerKeys(agentId, await this.teams(agentId, fresh)).filter((k) =>
      want.has(k === 'fleet' ? 'fleet' : k.startsWith('team:') ? 'team' : 'agent'));
  }

  // ---- recall ----

  async recall(agentId: string, req: RecallRequest): Promise<RecallResponse> {
    const t0 = performance.now();
    if (!this.d.sync.loaded) throw new FarmbrainError('SERVICE_UNAVAILABLE', 'the memory index is still loading from Postgres; retry in a few seconds (GET /readyz turns 200 when it is ready)');
    const k = req.k ?? 10;
    if (!Number.isInteger(k) || k < 1 || k > 100) throw invalid(`k must be an integer from 1 to 100, got ${req.k}`);
    const query = req.query?.trim() ?? '';
    if (query.length > 4096) throw invalid('query is limited to 4096 characters');
    const weights = { ...DEFAULT_WEIGHTS, ...req.weights };
    for (const [name, w] of Object.entries(weights)) if (!Number.isFinite(w) || w < 0) throw invalid(`weights.${name} must be a number >= 0`);
    if (req.minImportance !== undefined && !(req.minImportance >= 0 && req.minImportance <= 1)) throw invalid('minImportance must be between 0 and 1');
    const now = Date.now();
    const since = toMillis('since', req.since);
    const until = toMillis('until', req.until);
    const rejected = await this.d.sync.waitFor(req.consistency);
    // After the token: "register, then recall with its token" must find the agent. Before anything
    // is published: a recall of an unknown agent records nothing (it would create the agent).
    await explained(this.#agents.require(agentId), rejected);
    const owners = await this.#ownerKeys(agentId, req.scopes, req.consistency !== undefined);
    const warnings: string[] = [...rejected];

    // The query vector: the agent's own, else the text embedded with the deployment's model.
    let qv: Float32Array | undefined;
    let model = '';
    if (req.vector?.length) {
      if (!req.vector.every(Number.isFinite) || req.vector.length > 4096) throw invalid('vector must hold at most 4096 finite numbers');
      qv = normalize(req.vector);
      model = req.embeddingModel || 'client';
    } else if (query !== '') {
      try {
        [qv] = await this.d.embedder.embed([query]);
        model = this.d.embedder.model;
      } catch (err) {
        warnings.push(`vector search skipped: ${(err as Error).message}`);
      }
    }

    const pool = Math.max(k * 5, 50);
    const filter: VectorFilter = {
      now,
      ...(req.kinds?.length ? { kinds: new Set(req.kinds) } : {}),
      ...(req.tags?.length ? { allTags: req.tags } : {}),
      ...(req.anyTags?.length ? { anyTags: req.anyTags } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(req.minImportance !== undefined ? { minImportance: req.minImportance } : {}),
    };
    const vectorHits = qv ? this.d.index.search(model, owners, qv, pool, filter) : [];
    const tsq = query === '' ? undefined : orQuery(query);
    // Neither text nor vector: the filtered memories, ranked by recency and importance alone.
    const browse = !qv && query === '';
    const textHits = tsq
      ? await this.#fullText(owners, tsq, allWords(query)!, vectorHits.map((h) => h.meta.memoryId), req, since, until, pool)
      : browse ? await this.#browse(owners, req, since, until, pool) : [];

    // Union of both candidate lists; similarity for text-only candidates comes from the index when it has them.
    const cands = new Map<string, Candidate>();
    for (const h of vectorHits) {
      cands.set(h.meta.memoryId, { memoryId: h.meta.memoryId, version: h.meta.version, createdAt: h.meta.createdAt, importance: h.meta.importance, similarity: h.similarity, textRelevance: null });
    }
    for (const t of textHits) {
      const c = cands.get(t.memory_id);
      if (c) {
        c.textRelevance = t.relevance;
        continue;
      }
      const inIndex = qv ? this.d.index.get(t.memory_id) : undefined;
      const similarity = inIndex && inIndex.meta.model === model && inIndex.vector.length === qv!.length ? dot(qv!, inIndex.vector) : null;
      cands.set(t.memory_id, { memoryId: t.memory_id, version: t.version, createdAt: t.created, importance: t.importance, similarity, textRelevance: t.relevance });
    }
    const ranked = (this.d.decay?.enabled ? await this.#decay(fuse([...cands.values()], weights, now), now) : fuse([...cands.values()], weights, now)).slice(0, k);
    const docs = await this.#content(ranked.map((r) => r.c));
    const hits: RecallHit[] = [];
    for (const r of ranked) {
      const doc = docs.get(r.c.memoryId);
      if (!doc) continue; // forgotten between search and fetch
      hits.push({ memory: doc.view, score: r.score, parts: r.parts, tier: doc.tier });
    }
    const recallId = await this.#record(agentId, req, query, model, k, hits, performance.now() - t0);
    return { recallId, hits, embeddingModel: model, tookMs: Math.round((performance.now() - t0) * 100) / 100, ...(warnings.length ? { warnings } : {}) };
  }

  /**
   * Full-text relevance, at a bounded cost whatever the query:
   * - every vector candidate is scored against the query's words (any of them), by id;
   * - text-only candidates are memories matching every word, at most
   *   textScanCap (FB_RECALL_TEXT_SCAN_CAP) of them looked at, then ranked.
   * Ranking every memory that shares one common word with the query (an OR query
   * over the agent's whole scope) cost 200-400 ms at 1M memories; this is bounded.
   */
  async #fullText(owners: string[], anyQ: string, allQ: string, vectorIds: string[], f: RecallRequest, since: number | undefined, until: number | undefined, limit: number) {
    const r = await this.d.pool.query<TextRow>(
      `SELECT memory_id, version, importance, created, ts_rank_cd(tsv, to_tsquery('english', $2)) AS relevance
         FROM ((SELECT memory_id, version, importance, created_at, tsv FROM memories
                 WHERE memory_id = ANY($10) AND owner_key = ANY($1) AND tsv @@ to_tsquery('english', $2) ${FILTER_SQL})
               UNION ALL
               (SELECT memory_id, version, importance, created_at, tsv FROM memories
                 WHERE owner_key = ANY($1) AND tsv @@ to_tsquery('english', $11) ${FILTER_SQL}
                 LIMIT $12)) c
         CROSS JOIN LATERAL (SELECT (extract(epoch from c.created_at) * 1000)::bigint AS created) t
        ORDER BY relevance DESC, created DESC
        LIMIT $9`,
      [...this.#filterArgs(owners, anyQ, f, since, until, limit), vectorIds, allQ, this.d.textScanCap],
    );
    const seen = new Set<string>();
    return r.rows.filter((row) => !seen.has(row.memory_id) && seen.add(row.memory_id));
  }

  /** No text and no vector: the newest memories passing the filters. */
  async #browse(owners: string[], f: RecallRequest, since: number | undefined, until: number | undefined, limit: number) {
    const r = await this.d.pool.query<TextRow>(
      `SELECT memory_id, version, importance, (extract(epoch from created_at) * 1000)::bigint AS created, NULL::float4 AS relevance
         FROM memories
        WHERE owner_key = ANY($1) AND ($2::text IS NULL) ${FILTER_SQL}
        ORDER BY created_at DESC
        LIMIT $9`,
      this.#filterArgs(owners, null, f, since, until, limit),
    );
    return r.rows;
  }

  #filterArgs(owners: string[], tsq: string | null, f: RecallRequest, since: number | undefined, until: number | undefined, limit: number): unknown[] {
    return [owners, tsq, f.kinds?.length ? f.kinds : null, f.tags?.length ? f.tags : null, f.anyTags?.length ? f.anyTags : null,
      since ?? null, until ?? null, f.minImportance ?? 0, limit];
  }

  /**
   * Memory content for the hits: the Redis hot tier first (entries are valid
   * only for the exact version ranked), Postgres for the rest, which then
   * warms the hot tier for the next recall. The hot tier is a cache: when Redis
   * fails or times out, every hit is served from Postgres (tier 'warm') and the
   * recall carries on.
   */
  async #content(cands: readonly Candidate[]): Promise<Map<string, { view: MemoryView; tier: MemoryTier }>> {
    const out = new Map<string, { view: MemoryView; tier: MemoryTier }>();
    if (cands.length === 0) return out;
    const key = (id: string) => memdocKey(this.d.redisPrefix, id);
    const cached = await this.d.redis.mget(cands.map((c) => key(c.memoryId))).catch((err: unknown) => {
      this.d.log.debug({ err }, 'hot tier read failed; serving recall content from Postgres');
      return undefined;
    });
    const missing: Candidate[] = [];
    const touch = cached ? this.d.redis.pipeline() : undefined;
    cands.forEach((c, i) => {
      const raw = cached?.[i];
      const view = raw ? parseView(raw) : undefined;
      if (view && view.version === c.version) {
        out.set(c.memoryId, { view, tier: 'hot' });
        // Recalled again: stays hot (GT: never shortens the longer hold of a promoted memory's entry).
        touch?.expire(key(c.memoryId), this.d.hotTtlSeconds, 'GT');
      } else missing.push(c);
    });
    if (touch && touch.length > 0) void touch.exec().catch((err: unknown) => this.d.log.debug({ err }, 'hot tier TTL refresh failed'));
    if (missing.length > 0) {
      const r = await this.d.pool.query<MemoryRow>(
        `SELECT ${VIEW_COLUMNS} FROM memories WHERE memory_id = ANY($1) AND forgotten_at IS NULL AND consolidated_into IS NULL`, [missing.map((c) => c.memoryId)]);
      const pipe = cached ? this.d.redis.pipeline() : undefined;
      for (const row of r.rows) {
        const view = viewOf(row);
        out.set(view.memoryId, { view, tier: 'warm' });
        const ttl = row.tier === 'hot' ? Math.max(this.d.pinnedTtlSeconds ?? 0, this.d.hotTtlSeconds) : this.d.hotTtlSeconds;
        (pipe as unknown as MemdocPut | undefined)?.fbMemdocPut(key(view.memoryId), JSON.stringify(view), ttl, ERASED_MEMDOC);
      }
      // Warming the cache is best effort: the answer does not wait for it, nor fail with it.
      if (pipe && pipe.length > 0) void pipe.exec().catch((err: unknown) => this.d.log.debug({ err }, 'hot tier write failed'));
    }
    return out;
  }

  /** Records the recall on the log (provenance) before answering: what was asked, what came back. */
  async #record(agentId: string, req: RecallRequest, query: string, model: string, k: number, hits: readonly RecallHit[], latencyMs: number): Promise<string> {
    const filters: Record<string, unknown> = {};
    for (const f of ['scopes', 'kinds', 'tags', 'anyTags', 'since', 'until', 'minImportance', 'weights'] as const) if (req[f] !== undefined) filters[f] = req[f];
    const [event] = this.d.writer.toEvents([{
      agentId,
      type: 'memory_recalled',
      ...(req.correlationId ? { correlationId: req.correlationId } : {}),
      data: {
        queryText: query,
        queryVector: req.vector ?? [],
        filters,
        k,
        hits: hits.map((h) => ({ memoryId: h.memory.memoryId, version: h.memory.version, score: h.score, tier: h.tier })),
        embeddingModel: model,
        // Until the answer was ready (the publish of this event aside): the recall latency analytics rolls up.
        latencyMs: Math.round(latencyMs * 100) / 100,
      },
    }]);
    await this.d.writer.publish([event!]);
    return event!.eventId;
  }

  /**
   * Memory decay (the lifecycle policy's, opt-in): each candidate's fused score
   * times its decay factor (age since its last recall, else its creation), then
   * ranked again. The factor shows in the hit's parts.
   */
  async #decay(ranked: ReturnType<typeof fuse>, now: number): Promise<ReturnType<typeof fuse>> {
    const policy = this.d.decay!;
    if (ranked.length === 0) return ranked;
    const r = await this.d.pool.query<{ memory_id: string; last: string | null }>(
      'SELECT memory_id, (extract(epoch from last_accessed_at) * 1000)::bigint AS last FROM memories WHERE memory_id = ANY($1)', [ranked.map((x) => x.c.memoryId)]);
    const last = new Map(r.rows.map((x) => [x.memory_id, x.last === null ? null : Number(x.last)]));
    return ranked.map((x) => {
      const decay = decayPart(policy, { createdAt: x.c.createdAt, lastAccessedAt: last.get(x.c.memoryId) ?? null }, now);
      return decay ? { c: x.c, score: decayed(x.score, decay), parts: { ...x.parts, decay } } : x;
    }).sort((a, b) => b.score - a.score || b.c.createdAt - a.c.createdAt);
  }

  // ---- consolidation and erasure (operator actions) ----

  async consolidate(agentId: string, req: ConsolidateRequest): Promise<ConsolidateResponse> {
    const rejected = await this.d.sync.waitFor(req.consistency);
    await explained(this.#agents.require(agentId), rejected);
    for (const f of ['threshold', 'minTagOverlap'] as const) {
      const v = req[f];
      if (v !== undefined && !(v >= 0 && v <= 1)) throw invalid(`${f} must be between 0 and 1`);
    }
    return consolidateAgent({
      pool: this.d.pool, names: this.d.names, log: this.d.log, publish: (events) => this.d.writer.publish(events),
      ...(this.d.summarizer ? { summarizer: this.d.summarizer } : {}), ...(this.d.limits ? { limits: this.d.limits } : {}),
    }, agentId, req);
  }

  /**
   * Erases the memory and the consolidated memories derived from it: destroys
   * their keys and publishes memory_erased for each (tiering scrubs every
   * store), waits until that is applied, then deletes the ingress and
   * dead-letter messages that held their content in the clear.
   */
  async erase(agentId: string, memoryId: string, body: EraseBody): Promise<EraseResult> {
    const er = this.d.erasure;
    if (!er) throw new FarmbrainError('SERVICE_UNAVAILABLE', 'erasure needs the memory key bucket, which this gateway has not opened');
    if (body.reason.trim() === '' || body.operator.trim() === '') throw invalid('an erasure names its reason and its operator (both are kept in the erasure log)');
    const jsm = await er.jsm();
    const done = await eraseEverywhere({ js: er.js, jsm, names: this.d.names, keys: er.keys, pool: this.d.pool }, { agentId, memoryId, reason: body.reason, operator: body.operator });
    await this.d.sync.waitFor(done.consistencyToken);
    const scrubbedMessages = await scrubIngress({ js: er.js, jsm, names: this.d.names }, done.writers, done.memoryIds);
    this.d.log.info({ agentId, memoryId, erased: done.erased.map((e) => e.memoryId), operator: body.operator, scrubbedMessages }, 'memory erased');
    return { memoryId, erased: done.erased, scrubbedMessages, consistencyToken: done.consistencyToken };
  }

  /** The erasure log, newest first (no content: who, what, when, why). */
  async erasures(q: { agentId?: string; limit?: number; cursor?: string }): Promise<{ items: ErasureView[]; nextCursor: string | null }> {
    const limit = q.limit ?? 50;
    // The cursor: the last row's time (epoch microseconds, exact), event id and memory id.
    const c = q.cursor ? /^(\d{1,18})_([0-9a-f-]{36})_(.+)$/.exec(q.cursor) : undefined;
    if (q.cursor && !c) throw new FarmbrainError('INVALID_CURSOR', 'cursor must be the nextCursor of a previous page');
    const r = await this.d.pool.query<{ event_id: string; memory_id: string; agent_id: string; operator: string; reason: string; us: string; scrubbed: boolean; versions: number; released: string[] }>(
      `SELECT event_id::text, memory_id, agent_id, operator, reason, (extract(epoch from erased_at) * 1000000)::bigint::text AS us, scrubbed, versions, released
         FROM erasures
        WHERE ($1::text IS NULL OR agent_id = $1)
          AND ($2::bigint IS NULL OR (erased_at, event_id, memory_id) < ('epoch'::timestamptz + $2 * interval '1 microsecond', $3::uuid, $4))
        ORDER BY erased_at DESC, event_id DESC, memory_id DESC
        LIMIT $5`,
      [q.agentId ?? null, c ? c[1] : null, c ? c[2] : null, c ? c[3] : null, limit + 1],
    );
    const rows = r.rows.slice(0, limit);
    const last = rows.at(-1);
    return {
      items: rows.map((x) => ({
        eventId: x.event_id, memoryId: x.memory_id, agentId: x.agent_id, operator: x.operator, reason: x.reason, erasedAt: Math.floor(Number(x.us) / 1000),
        scrubbed: x.scrubbed, versions: x.versions, released: x.released,
      })),
      nextCursor: r.rows.length > limit && last ? `${last.us}_${last.event_id}_${last.memory_id}` : null,
    };
  }

  // ---- outcome-linked recall and provenance ----

  async similarDecisions(agentId: string, req: SimilarDecisionsRequest): Promise<SimilarDecisionsResponse> {
    const rejected = await this.d.sync.waitFor(req.consistency);
    await explained(this.#agents.require(agentId), rejected);
    const agents = new Set([agentId]);
    if (req.includeTeam) for (const a of await this.teamMembers(agentId)) agents.add(a);
    const out = await similarDecisions(this.d.pool, [...agents], req);
    return rejected.length > 0 ? { ...out, warnings: rejected } : out;
  }

  /** Every agent sharing a team with this one (registrations and pinned memberships). */
  async teamMembers(agentId: string): Promise<string[]> {
    const teams = await this.teams(agentId, true);
    if (teams.length === 0) return [];
    const pinned = teams.filter((t) => this.d.scopes.teams[t] !== undefined);
    const registered = teams.filter((t) => this.d.scopes.teams[t] === undefined);
    const out = new Set(pinned.flatMap((t) => this.d.scopes.teams[t]!));
    if (registered.length > 0) {
      const r = await this.d.pool.query<{ agent_id: string }>('SELECT agent_id FROM agents WHERE team = ANY($1)', [registered]);
      for (const row of r.rows) out.add(row.agent_id);
    }
    return [...out].sort();
  }

  async decisionContext(agentId: string, decisionId: string, consistency?: ConsistencyToken): Promise<DecisionContext> {
    const rejected = await this.d.sync.waitFor(consistency);
    await explained(this.#agents.require(agentId), rejected);
    // A decision may cite any memory id; only what this agent may read is shown.
    const out = await explained(decisionContext(this.d.pool, agentId, decisionId, {
      readableOwnerKeys: readableOwnerKeys(agentId, await this.teams(agentId)), ...(this.d.records ? { records: this.d.records } : {}),
    }), rejected);
    return rejected.length > 0 ? { ...out, warnings: rejected } : out;
  }
}

/**
 * A read that fails because what it looks for is not there (unknown agent,
 * memory or decision) says so, and also that the write its consistency token
 * named was rejected: that is usually why.
 */
async function explained<T>(p: Promise<T>, rejected: readonly string[]): Promise<T> {
  if (rejected.length === 0) return p;
  try {
    return await p;
  } catch (err) {
    if (err instanceof FarmbrainError && ['NOT_FOUND', 'UNKNOWN_AGENT', 'NOT_OWNER', 'MEMORY_FORGOTTEN'].includes(err.code)) {
      throw new FarmbrainError(err.code, `${err.message}; note: ${rejected.join('; ')}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Reciprocal-rank fusion of four rankings over the candidates: vector
 * similarity, text relevance (only candidates that have one are ranked in it),
 * recency and importance. Ties share the better rank.
 */
export function fuse(cands: readonly Candidate[], w: typeof DEFAULT_WEIGHTS, now: number): { c: Candidate; score: number; parts: ScoreParts }[] {
  const rankBy = (vals: (number | null)[]): (number | null)[] => {
    const idx = vals.map((v, i) => [v, i] as const).filter((x): x is readonly [number, number] => x[0] !== null).sort((a, b) => b[0] - a[0]);
    const ranks: (number | null)[] = vals.map(() => null);
    idx.forEach(([v, i], pos) => (ranks[i] = pos > 0 && idx[pos - 1]![0] === v ? ranks[idx[pos - 1]![1]]! : pos + 1));
    return ranks;
  };
  const vr = rankBy(cands.map((c) => c.similarity));
  const tr = rankBy(cands.map((c) => c.textRelevance));
  const rr = rankBy(cands.map((c) => c.createdAt));
  const ir = rankBy(cands.map((c) => c.importance));
  const out = cands.map((c, i) => {
    const parts: ScoreParts = {
      vector: c.similarity === null ? null : { similarity: round(c.similarity), rank: vr[i]! },
      text: c.textRelevance === null ? null : { relevance: round(c.textRelevance), rank: tr[i]! },
      recency: { ageMs: Math.max(0, now - c.createdAt), rank: rr[i]! },
      importance: { value: c.importance, rank: ir[i]! },
    };
    const score = (parts.vector ? w.vector / (RRF_K + parts.vector.rank) : 0)
      + (parts.text ? w.text / (RRF_K + parts.text.rank) : 0)
      + w.recency / (RRF_K + parts.recency.rank)
      + w.importance / (RRF_K + parts.importance.rank);
    return { c, score: round(score), parts };
  });
  return out.sort((a, b) => b.score - a.score || b.c.createdAt - a.c.createdAt);
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
