import type { MemoryTier } from '@farmbrain/contracts';
import type { Pool } from '@farmbrain/platform';
import { NotFoundError } from '../http/errors.js';
import type { DecisionContext, RecallRecord, VersionedMemory } from './types.js';

/** At most this many recalls come from the "since the previous decision" fallback (the latest ones). */
export const FALLBACK_RECALLS = 50;

const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const isUuid = (s: string) => new RegExp(UUID).test(s);

export interface DecisionContextOptions {
  /**
   * Owner keys (`agent:<id>`, `team:<name>`, `fleet`) the asking agent may read.
   * When given, memory content outside them is withheld (a recall hit's memory is
   * null; a cited memory reads as unknown) - a decision can cite any id it likes,
   * so without this a client-chosen id of someone else's private memory would leak.
   * When absent, nothing is withheld.
   */
  readableOwnerKeys?: readonly string[];
  /**
   * Records by id in any tier (the gateway's record reader): a decision and the recalls it cites that
   * the lifecycle moved to cold or archive blocks are read from there. Without it, only warm ones.
   */
  records?: { record(recordId: string): Promise<{ kind: string; agentId: string; tier: string; record: Record<string, unknown> }> };
}

/**
 * What a decision was based on, as it was at the time. One round trip.
 *
 * - The decision must be `agentId`'s, else NotFoundError (also for an id that is not a uuid).
 * - Recalls: the agent's recalls the decision cites (recall_ids) plus those with the
 *   decision's (non-empty) correlation id made at or before it. When both are empty:
 *   the agent's recalls after its previous decision (strictly; the previous decision
 *   is the latest one with an earlier occurred_at) and at or before this one, the
 *   latest FALLBACK_RECALLS of them. Oldest first. Each hit carries the snapshot of
 *   exactly the memory version that was served (null when that version is unknown).
 * - Cited memories, in the decision's order: the latest version at or before the
 *   decision's time. A cited memory with no version by then (created later, by a
 *   clock-skewed writer, or an unknown id) is kept, so the citation stays visible,
 *   with version 0 and memory {}; currentVersion is null when the id is unknown now.
 *   changedSince: current version > the version then (so true for version 0 of a
 *   memory that exists now). forgottenSince: forgotten after the decision (a memory
 *   already forgotten when cited has forgottenSince false and a snapshot whose
 *   forgottenAt is set).
 */
export async function decisionContext(pool: Pool, agentId: string, decisionId: string, opts: DecisionContextOptions = {}): Promise<DecisionContext> {
  if (!isUuid(decisionId)) throw new NotFoundError('decision', decisionId);
  const keys = opts.readableOwnerKeys ? [...opts.readableOwnerKeys] : null;
  let row = (await pool.query<ContextRow>(CONTEXT_SQL, [agentId, decisionId, keys, UUID, FALLBACK_RECALLS, null, '[]'])).rows[0];
  if (!row && opts.records) {
    // Not in warm: the lifecycle may have moved it (and the recalls it cites) into blocks. The same query runs
    // with them handed in, so one rule builds the context whatever the tiers.
    const moved = await fromBlocks(opts.records, agentId, decisionId);
    if (moved) row = (await pool.query<ContextRow>(CONTEXT_SQL, [agentId, decisionId, keys, UUID, FALLBACK_RECALLS, JSON.stringify(moved.decision), JSON.stringify(moved.recalls)])).rows[0];
  }
  if (!row) throw new NotFoundError('decision', decisionId);
  return {
    decision: {
      decisionId: row.decision_id, agentId: row.agent_id, symbol: row.symbol, action: row.action, occurredAt: row.occurred_ms,
      rationale: row.rationale, memoryIds: row.memory_ids, recallIds: row.recall_ids, correlationId: row.correlation_id,
    },
    recalls: row.recalls.map(recallOut),
    citedMemories: row.cited.map(citedOut),
  };
}

const ms = (col: string) => `round(extract(epoch FROM ${col}) * 1000)::bigint`;
// Owner key of a memory_versions snapshot, as memories.owner_key computes it.
const snapshotOwner = (s: string) =>
  `CASE ${s}->>'scope' WHEN 'agent' THEN 'agent:' || (${s}->>'agentId') WHEN 'team' THEN 'team:' || (${s}->>'scopeId') ELSE 'fleet' END`;
const readable = (s: string) => `($3::text[] IS NULL OR ${snapshotOwner(s)} = ANY($3::text[]))`;

// $1 agent id, $2 decision id, $3 readable owner keys (null = all), $4 uuid pattern, $5 fallback limit.
// Every lookup is an index probe: decisions_pkey, decisions_agent_time (previous decision),
// recalls_pkey / recalls_agent_correlation / recalls_agent_time, memory_versions_memory
// (memory_id, version) and memories_pkey. The hit version is compared as an integer so the
// (memory_id, version) probe is exact; comparing text made each probe look ~10x dearer and
// pushed the estimated cost past jit_above_cost, and JIT compiling cost ~30 ms per call.
const CONTEXT_SQL = `
  WITH d0 AS (
    SELECT event_id, agent_id, symbol, action, occurred_at, rationale, memory_ids, recall_ids, correlation_id
      FROM decisions WHERE event_id = $2::uuid AND agent_id = $1
    UNION ALL
    SELECT x.event_id, x.agent_id, x.symbol, x.action, x.occurred_at, x.rationale, x.memory_ids, x.recall_ids, x.correlation_id
      FROM jsonb_to_record(coalesce($6::jsonb, '{}')) AS x(event_id uuid, agent_id text, symbol text, action text, occurred_at timestamptz,
           rationale text, memory_ids text[], recall_ids text[], correlation_id text)
     WHERE $6::jsonb IS NOT NULL AND x.event_id = $2::uuid AND x.agent_id = $1
  ),
  d AS (
    SELECT d0.*, coalesce(prev.occurred_at, '-infinity') AS prev_at
      FROM (SELECT * FROM d0 LIMIT 1) d0
      LEFT JOIN LATERAL (
        SELECT p.occurred_at FROM decisions p
         WHERE p.agent_id = d0.agent_id AND p.occurred_at < d0.occurred_at
         ORDER BY p.occurred_at DESC LIMIT 1
      ) prev ON true
  ),
  -- The agent's recalls: the warm table, plus those a moved decision cites, read from their blocks ($7).
  rc AS NOT MATERIALIZED (
    SELECT recall_id, agent_id, occurred_at, query_text, filters, k, hits, correlation_id FROM recalls
    UNION ALL
    SELECT y.recall_id, y.agent_id, y.occurred_at, y.query_text, y.filters, y.k, y.hits, y.correlation_id
      FROM jsonb_to_recordset($7::jsonb) AS y(recall_id uuid, agent_id text, occurred_at timestamptz, query_text text, filters jsonb, k int,
           hits jsonb, correlation_id text)
  ),
  linked AS (
    SELECT r.recall_id
      FROM d CROSS JOIN LATERAL unnest(d.recall_ids) AS x(id)
      JOIN rc r ON r.recall_id = (CASE WHEN x.id ~ $4 THEN x.id::uuid END) AND r.agent_id = d.agent_id
    UNION
    SELECT r.recall_id
      FROM d JOIN rc r ON r.agent_id = d.agent_id AND r.correlation_id = d.correlation_id
     WHERE d.correlation_id <> '' AND r.correlation_id <> '' AND r.occurred_at <= d.occurred_at
  ),
  fallback AS (
    SELECT r.recall_id
      FROM d JOIN rc r ON r.agent_id = d.agent_id
     WHERE NOT EXISTS (SELECT 1 FROM linked)
       AND r.occurred_at <= d.occurred_at AND r.occurred_at > d.prev_at
     ORDER BY r.occurred_at DESC, r.recall_id DESC
     LIMIT $5
  ),
  recall_list AS (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
             'recallId', c.recall_id, 'occurredAt', ${ms('c.occurred_at')}, 'query', c.query_text, 'filters', c.filters, 'k', c.k,
             'hits', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                              'memoryId', h.hit->'memoryId', 'version', h.hit->'version', 'score', h.hit->'score',
                              'tier', h.hit->'tier', 'memory', v.snapshot) ORDER BY h.ord), '[]'::jsonb)
                        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.hits) = 'array' THEN c.hits ELSE '[]'::jsonb END)
                             WITH ORDINALITY AS h(hit, ord)
                        LEFT JOIN LATERAL (
                          SELECT mv.snapshot FROM memory_versions mv
                           WHERE mv.memory_id = h.hit->>'memoryId'
                             AND mv.version = CASE WHEN h.hit->>'version' ~ '^[0-9]{1,9}$' THEN (h.hit->>'version')::int END
                             AND ${readable('mv.snapshot')}
                           ORDER BY mv.occurred_at LIMIT 1
                        ) v ON true))
           ORDER BY c.occurred_at, c.recall_id), '[]'::jsonb) AS recalls
      FROM rc c
     WHERE c.recall_id IN (SELECT recall_id FROM linked UNION ALL SELECT recall_id FROM fallback)
  ),
  cited_list AS (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
             'memoryId', m.id, 'version', coalesce(v.version, 0), 'memory', coalesce(v.snapshot, '{}'::jsonb),
             'currentVersion', cur.version,
             'changedSince', coalesce(cur.version > coalesce(v.version, 0), false),
             'forgottenSince', coalesce(cur.forgotten_at > d.occurred_at, false))
           ORDER BY m.ord), '[]'::jsonb) AS cited
      FROM d CROSS JOIN LATERAL unnest(d.memory_ids) WITH ORDINALITY AS m(id, ord)
      LEFT JOIN LATERAL (
        SELECT mv.version, mv.snapshot FROM memory_versions mv
         WHERE mv.memory_id = m.id AND mv.occurred_at <= d.occurred_at AND ${readable('mv.snapshot')}
         ORDER BY mv.version DESC LIMIT 1
      ) v ON true
      LEFT JOIN memories cur ON cur.memory_id = m.id
           AND ($3::text[] IS NULL OR cur.owner_key = ANY($3::text[]))
  )
  SELECT d.event_id::text AS decision_id, d.agent_id, d.symbol, d.action, ${ms('d.occurred_at')} AS occurred_ms, d.rationale,
         d.memory_ids, d.recall_ids, d.correlation_id, rl.recalls, cl.cited
    FROM d CROSS JOIN recall_list rl CROSS JOIN cited_list cl`;

interface ContextRow {
  decision_id: string; agent_id: string; symbol: string; action: string; occurred_ms: number; rationale: string;
  memory_ids: string[]; recall_ids: string[]; correlation_id: string;
  recalls: RecallJson[]; cited: VersionedMemory[];
}
interface RecallJson {
  recallId: string; occurredAt: number; query: string; filters: Record<string, unknown>; k: number;
  hits: { memoryId: unknown; version: unknown; score: unknown; tier: unknown; memory: Record<string, unknown> | null }[];
}

const recallOut = (r: RecallJson): RecallRecord => ({
  recallId: r.recallId, occurredAt: r.occurredAt, query: r.query, filters: r.filters, k: r.k,
  hits: r.hits.map((h) => ({
    memoryId: String(h.memoryId ?? ''), version: Number(h.version ?? 0), score: Number(h.score ?? 0),
    tier: String(h.tier ?? '') as MemoryTier, memory: h.memory,
  })),
});

const citedOut = (c: VersionedMemory): VersionedMemory => ({
  memoryId: c.memoryId, version: c.version, memory: c.memory, currentVersion: c.currentVersion,
  changedSince: c.changedSince, forgottenSince: c.forgottenSince,
});

/**
 * A decision the lifecycle moved out of warm, and the recalls it cites that were moved too, read by id from
 * their blocks, in the shape of their warm rows; undefined when it is not this agent's decision (or is gone).
 */
async function fromBlocks(records: NonNullable<DecisionContextOptions['records']>, agentId: string, decisionId: string) {
  const read = (id: string) => records.record(id).catch((err: unknown) => {
    if ((err as { code?: string })?.code === 'NOT_FOUND' || (err as { code?: string })?.code === 'RECORD_DELETED') return undefined;
    throw err;
  });
  const found = await read(decisionId);
  if (!found || found.kind !== 'decision' || found.agentId !== agentId || found.tier === 'warm') return undefined;
  const d = found.record;
  const decision = {
    event_id: d.decisionId, agent_id: d.agentId, symbol: d.symbol, action: d.action, occurred_at: d.occurredAt, rationale: d.rationale,
    memory_ids: d.memoryIds, recall_ids: d.recallIds, correlation_id: d.correlationId,
  };
  const recalls = [];
  for (const id of new Set((d.recallIds as string[]).filter(isUuid))) {
    const r = await read(id);
    if (!r || r.kind !== 'recall' || r.agentId !== agentId || r.tier === 'warm') continue;
    const x = r.record;
    recalls.push({ recall_id: x.recallId, agent_id: x.agentId, occurred_at: x.occurredAt, query_text: x.queryText, filters: x.filters, k: x.k, hits: x.hits, correlation_id: x.correlationId });
  }
  return { decision, recalls };
}
