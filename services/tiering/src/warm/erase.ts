/**
 * memory_erased: an operator erased the memory. Its key was destroyed before
 * the event was published, so every copy of the log holds only ciphertext of
 * it (a rebuild reveals it as ERASED_TEXT); here the warm store lets go of the
 * content too: the row's text, tags, embedding and situation, and every
 * version's snapshot. The memory is forgotten as well (it leaves recall and the
 * agent's view), and the erasure log gets who, when and why, never the content.
 * Decisions that cited it keep their own rationale (not memory content) and
 * resolve the citation to the erased memory.
 *
 * A canonical memory (consolidation) that is erased returns the originals it
 * stood for to recall. Canonicals derived from an erased memory are erased by
 * events of their own (the erasing caller publishes them, having destroyed
 * their keys too), so each erasure is one event and one log row.
 *
 * Dead letters of writes of it (an update by another agent, say) hold the
 * event as the projection saw it, opened: their content goes too.
 *
 * Redis: the agent's hot copy is rebuilt from these rows after the commit, and
 * the recalled-memory cache entry is replaced by a tombstone (tieringProjection).
 */
import { decodeEvent, encodeEvent, ERASED_TEXT, type EventOf, type FarmEvent } from '@farmbrain/contracts';
import type { PoolClient } from '@farmbrain/platform';
import type { SeqEvent } from '@farmbrain/projection';
import { CANONICAL_SNAPSHOT_SQL } from './memorySnapshot.js';
import type { Skip } from './warmStore.js';

type Erased = EventOf<'memory_erased'> & { streamSeq: number };

/** Applies one memory_erased event; returns why it was skipped, or undefined when applied. */
export async function applyErasure(c: PoolClient, e: Erased, partition: number): Promise<Skip | undefined> {
  const id = e.data.memoryId;
  const r = await c.query<{ agent_id: string; erased: boolean }>('SELECT agent_id, erased_at IS NOT NULL AS erased FROM memories WHERE memory_id = $1 FOR UPDATE', [id]);
  const row = r.rows[0];
  const ev = e as SeqEvent;
  if (!row) return { event: ev, code: 'UNKNOWN_MEMORY', reason: `erasure of memory '${id}', which does not exist (yet); its key is destroyed, so if it is stored later it reads as erased` };
  if (row.agent_id !== e.agentId) return { event: ev, code: 'NOT_OWNER', reason: `erasure of memory '${id}' under agent '${e.agentId}', but it belongs to agent '${row.agent_id}'` };

  let versions = 0;
  if (!row.erased) {
    const up = await c.query<{ version: number; embedding_model: string; snapshot: unknown }>(
      `UPDATE memories SET text = $2, tags = '{}', embedding = NULL, embedding_dims = 0, situation = '{}',
              forgotten_at = COALESCE(forgotten_at, to_timestamp($3 / 1000.0)), forgotten_reason = 'erased', erased_at = to_timestamp($3 / 1000.0),
              version = version + 1, updated_at = to_timestamp($3 / 1000.0), part = $4, change_seq = $5
        WHERE memory_id = $1
        RETURNING version, embedding_model, ${CANONICAL_SNAPSHOT_SQL} AS snapshot`,
      [id, ERASED_TEXT, e.occurredAt, partition, e.streamSeq],
    );
    // Every earlier version's snapshot (what provenance shows of it "as it was") loses the content too.
    const scrubbed = await c.query(
      `UPDATE memory_versions SET snapshot = snapshot || jsonb_build_object('text', $2::text, 'tags', '[]'::jsonb)
        WHERE memory_id = $1 AND (snapshot->>'text' IS DISTINCT FROM $2 OR snapshot->'tags' IS DISTINCT FROM '[]'::jsonb)`,
      [id, ERASED_TEXT],
    );
    versions = scrubbed.rowCount ?? 0;
    await scrubDeadLetters(c, id);
    const v = up.rows[0]!;
    await c.query(
      `INSERT INTO memory_versions (event_id, memory_id, agent_id, version, op, occurred_at, snapshot, embedding_model)
       VALUES ($1, $2, $3, $4, 'erased', to_timestamp($5 / 1000.0), $6, $7) ON CONFLICT (event_id) DO NOTHING`,
      [e.eventId, id, e.agentId, v.version, e.occurredAt, v.snapshot, v.embedding_model],
    );
  }
  // An erased canonical no longer stands for its originals: they come back to recall (change feed).
  const released = await c.query<{ memory_id: string }>(
    `UPDATE memories SET consolidated_into = NULL, part = $2, change_seq = $3
      WHERE consolidated_into = $1 AND erased_at IS NULL RETURNING memory_id`,
    [id, partition, e.streamSeq],
  );
  await c.query(
    `INSERT INTO erasures (event_id, memory_id, agent_id, operator, reason, erased_at, scrubbed, versions, released, stream_seq)
     VALUES ($1, $2, $3, $4, $5, to_timestamp($6 / 1000.0), $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
    [e.eventId, id, e.agentId, e.data.operator, e.data.reason, e.occurredAt, !row.erased, versions, released.rows.map((x) => x.memory_id).sort(), e.streamSeq],
  );
  return undefined;
}

/**
 * The memories of the partition erased within the longest time a recalled-memory
 * cache entry lives: at takeover their cache entries get tombstones again (a
 * crash, or Redis being down, may have come between an erasure's commit and its tombstone).
 */
export async function recentErasures(c: Pick<PoolClient, 'query'>, partition: number): Promise<string[]> {
  const r = await c.query<{ memory_id: string }>(
    `SELECT DISTINCT e.memory_id FROM erasures e JOIN memories m ON m.memory_id = e.memory_id
      WHERE m.part = $1 AND e.erased_at > now() - interval '30 days'`,
    [partition],
  );
  return r.rows.map((x) => x.memory_id);
}

/**
 * The projection's dead letters of writes of this memory keep the event as it
 * was applied (its content opened): each is rewritten without the content
 * (text, tags, embedding, situation), so it stays listed, and a replay of it
 * finds the memory erased.
 */
async function scrubDeadLetters(c: PoolClient, memoryId: string): Promise<void> {
  const r = await c.query<{ id: string; event: Buffer }>(
    `SELECT id, event FROM projection_dead_letters
      WHERE event_type IN ('memory_stored', 'memory_updated') AND position(convert_to($1, 'UTF8') IN event) > 0`,
    [memoryId],
  );
  for (const row of r.rows) {
    let e: FarmEvent;
    try {
      e = decodeEvent(row.event);
    } catch {
      continue; // not an event: nothing of a memory in it to find
    }
    if ((e.type !== 'memory_stored' && e.type !== 'memory_updated') || e.data.memoryId !== memoryId) continue;
    const data = { ...e.data, tags: [], embedding: [] } as Record<string, unknown>;
    if (e.type === 'memory_stored') Object.assign(data, { text: ERASED_TEXT, situation: [] });
    else delete data.text;
    delete data.sealed;
    await c.query('UPDATE projection_dead_letters SET event = $2 WHERE id = $1', [row.id, Buffer.from(encodeEvent({ ...e, data } as unknown as FarmEvent))]);
  }
}

/** The ids of the erasure events among these. */
export const erasureEventIds = (events: readonly { type: string; eventId: string }[]): string[] =>
  events.filter((e) => e.type === 'memory_erased').map((e) => e.eventId);

/** The memories these erasure events erased (those applied: each left an erasure log row). */
export async function appliedErasures(c: Pick<PoolClient, 'query'>, eventIds: readonly string[]): Promise<string[]> {
  if (eventIds.length === 0) return [];
  const r = await c.query<{ memory_id: string }>('SELECT DISTINCT memory_id FROM erasures WHERE event_id = ANY($1::uuid[])', [eventIds]);
  return r.rows.map((x) => x.memory_id);
}
