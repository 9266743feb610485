/**
 * memories_consolidated: near-duplicate memories of one agent, kind and owner
 * become one canonical memory, which carries the evidence (how many originals
 * it stands for, their ids, the time range they span) and takes their place in
 * recall. The originals keep their rows and versions (readable by id; a
 * decision that cited one still shows it as it was), pointing at the canonical
 * (`consolidated_into`); the change feed moves them, so the recall index drops them.
 *
 * The canonical memory is normally stored just before, by a memory_stored of
 * its own (its content sealed with its own key like any memory's, so the log
 * never holds memory text in the clear, and erasing it shreds it): the event's
 * text is then SEALED_TEXT and the stored row is adopted. An event carrying the
 * text itself (the contract allows it) creates the row, with the
 * representative's embedding, or the members' centroid for a summary.
 */
import { defaultEventLimits, SEALED_TEXT, type EventOf } from '@farmbrain/contracts';
import { fromBytes, normalize, toBytes, type PoolClient } from '@farmbrain/platform';
import type { SeqEvent } from '@farmbrain/projection';
import { CANONICAL_SNAPSHOT_SQL } from './memorySnapshot.js';
import type { Skip } from './warmStore.js';

type Consolidated = EventOf<'memories_consolidated'> & { streamSeq: number };

interface MemberRow {
  memory_id: string; agent_id: string; kind: string; owner_key: string; scope: string; scope_id: string; forgotten: boolean;
  consolidated_into: string | null; merged: number; embedding: Buffer | null; embedding_model: string; tags: string[];
  importance: number; expires_at: Date | null;
}

const skip = (e: Consolidated, code: Skip['code'], reason: string): Skip => ({ event: e as SeqEvent, code, reason });

/** Applies one memories_consolidated event; returns why it was skipped, or undefined when applied. */
export async function applyConsolidation(c: PoolClient, e: Consolidated, partition: number): Promise<Skip | undefined> {
  const d = e.data;
  const ids = [...new Set(d.mergedIds)].sort();
  const canonical = d.canonicalMemoryId;
  if (ids.length < 2) return skip(e, 'NOT_CONSOLIDABLE', `a consolidation merges at least two memories; this one names ${ids.length}`);
  if (ids.includes(canonical)) return skip(e, 'NOT_CONSOLIDABLE', `the canonical memory '${canonical}' cannot be one of the memories it merges`);
  const r = await c.query<MemberRow>(
    `SELECT memory_id, agent_id, kind, owner_key, scope, scope_id, forgotten_at IS NOT NULL AS forgotten, consolidated_into,
            cardinality(merged_ids) AS merged, embedding, embedding_model, tags, importance, expires_at
       FROM memories WHERE memory_id = ANY($1::text[]) ORDER BY memory_id FOR UPDATE`,
    [[...ids, canonical]],
  );
  const rows = new Map(r.rows.map((m) => [m.memory_id, m]));
  const members = ids.map((id) => rows.get(id));
  const missing = ids.filter((_, i) => !members[i]);
  if (missing.length > 0) return skip(e, 'UNKNOWN_MEMORY', `consolidation of memories that do not exist (yet): ${missing.slice(0, 5).join(', ')}`);
  const ms = members as MemberRow[];
  const foreign = ms.find((m) => m.agent_id !== e.agentId);
  if (foreign) return skip(e, 'NOT_OWNER', `memory '${foreign.memory_id}' belongs to agent '${foreign.agent_id}', not '${e.agentId}': an agent's consolidation merges only its own memories`);
  const gone = ms.find((m) => m.forgotten);
  if (gone) return skip(e, 'MEMORY_FORGOTTEN', `memory '${gone.memory_id}' is forgotten (or erased): only live memories are merged`);
  const merged = ms.find((m) => m.consolidated_into !== null);
  if (merged) return skip(e, 'NOT_CONSOLIDABLE', `memory '${merged.memory_id}' was already merged into '${merged.consolidated_into}'`);
  const first = ms[0]!;
  const odd = ms.find((m) => m.kind !== first.kind || m.owner_key !== first.owner_key);
  if (odd) return skip(e, 'NOT_CONSOLIDABLE', `memories of one kind and owner merge; '${first.memory_id}' is a ${first.kind} of ${first.owner_key}, '${odd.memory_id}' a ${odd.kind} of ${odd.owner_key}`);
  const rep = d.representativeId === '' ? undefined : rows.get(d.representativeId);
  if (d.representativeId !== '' && !ids.includes(d.representativeId)) {
    return skip(e, 'NOT_CONSOLIDABLE', `the representative '${d.representativeId}' is not one of the merged memories`);
  }

  const existing = rows.get(canonical);
  if (existing) {
    // Adopt the canonical stored just before (see the file comment): it must be a fresh memory of the group's own.
    if (existing.agent_id !== e.agentId) return skip(e, 'NOT_OWNER', `the canonical memory '${canonical}' belongs to agent '${existing.agent_id}'`);
    if (existing.forgotten || existing.consolidated_into !== null || existing.merged > 0) {
      return skip(e, 'MEMORY_EXISTS', `memory '${canonical}' is already a consolidated memory, merged or forgotten: this group was consolidated before`);
    }
    if (existing.kind !== first.kind || existing.owner_key !== first.owner_key) {
      return skip(e, 'NOT_CONSOLIDABLE', `the canonical memory '${canonical}' is a ${existing.kind} of ${existing.owner_key}; the merged memories are ${first.kind}s of ${first.owner_key}`);
    }
  } else {
    if (d.text === SEALED_TEXT) return skip(e, 'UNKNOWN_MEMORY', `the canonical memory '${canonical}' was not stored first (its memory_stored, with the sealed text, comes before the consolidation)`);
    const emb = embeddingOf(rep, ms);
    const maxTags = defaultEventLimits().maxTags;
    const tags = [...new Set(ms.flatMap((m) => m.tags))].sort().slice(0, maxTags);
    const expires = ms.some((m) => m.expires_at === null) ? null : Math.max(...ms.map((m) => m.expires_at!.getTime()));
    await c.query(
      `INSERT INTO memories (memory_id, agent_id, kind, text, tags, importance, embedding, embedding_dims, embedding_model,
                             scope, scope_id, expires_at, version, created_at, updated_at, part, change_seq)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, to_timestamp($12 / 1000.0), 0, to_timestamp($13 / 1000.0), to_timestamp($13 / 1000.0), $14, $15)`,
      [canonical, e.agentId, first.kind, d.text, tags, Math.max(...ms.map((m) => m.importance)), emb?.bytes ?? null, emb?.dims ?? 0,
        emb?.model ?? '', first.scope, first.scope_id, expires, e.occurredAt, partition, e.streamSeq],
    );
  }

  // The canonical takes the group's evidence, usage and span; the originals point at it and leave recall (change feed).
  const up = await c.query<{ version: number; embedding_model: string; snapshot: unknown }>(
    `WITH g AS (
       SELECT sum(evidence_count)::int AS g_evidence, min(coalesce(span_from, created_at)) AS g_from,
              max(coalesce(span_to, created_at)) AS g_to, sum(access_count)::bigint AS g_accesses, max(last_accessed_at) AS g_last
         FROM memories WHERE memory_id = ANY($2::text[]))
     UPDATE memories SET merged_ids = $2::text[], evidence_count = g_evidence, span_from = g_from, span_to = g_to,
            consolidation_method = $3, representative_id = $4, access_count = access_count + g_accesses,
            last_accessed_at = GREATEST(last_accessed_at, g_last),
            version = version + 1, updated_at = to_timestamp($5 / 1000.0), part = $6, change_seq = $7
       FROM g WHERE memory_id = $1
     RETURNING version, embedding_model, ${CANONICAL_SNAPSHOT_SQL} AS snapshot`,
    [canonical, ids, d.method, d.representativeId, e.occurredAt, partition, e.streamSeq],
  );
  await c.query('UPDATE memories SET consolidated_into = $1, part = $2, change_seq = $3 WHERE memory_id = ANY($4::text[])', [canonical, partition, e.streamSeq, ids]);
  const v = up.rows[0]!;
  await c.query(
    `INSERT INTO memory_versions (event_id, memory_id, agent_id, version, op, occurred_at, snapshot, embedding_model)
     VALUES ($1, $2, $3, $4, 'consolidated', to_timestamp($5 / 1000.0), $6, $7) ON CONFLICT (event_id) DO NOTHING`,
    [e.eventId, canonical, e.agentId, v.version, e.occurredAt, v.snapshot, v.embedding_model],
  );
  return undefined;
}

/**
 * The embedding of a canonical created from the event's text: the
 * representative's, or (a summary) the normalised mean of the members' in
 * their model (the model most of them have), so it is found by the same
 * queries as they were. None when no member has one.
 */
function embeddingOf(rep: MemberRow | undefined, ms: readonly MemberRow[]): { bytes: Buffer; dims: number; model: string } | undefined {
  if (rep?.embedding) return { bytes: rep.embedding, dims: rep.embedding.length / 4, model: rep.embedding_model };
  const withVec = ms.filter((m) => m.embedding !== null);
  if (withVec.length === 0) return undefined;
  const byModel = new Map<string, MemberRow[]>();
  for (const m of withVec) byModel.set(`${m.embedding_model}\u0000${m.embedding!.length}`, [...(byModel.get(`${m.embedding_model}\u0000${m.embedding!.length}`) ?? []), m]);
  const group = [...byModel.values()].sort((a, b) => b.length - a.length)[0]!;
  const sum = new Float32Array(group[0]!.embedding!.length / 4);
  for (const m of group) fromBytes(m.embedding!).forEach((x, i) => (sum[i]! += x));
  const v = normalize(sum);
  return { bytes: toBytes(v), dims: v.length, model: group[0]!.embedding_model };
}
