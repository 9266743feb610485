import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { decodeBatch, decodeEvent, FarmbrainError, mergeConsistencyTokens, consistencyTokenOf, type FarmEvent, type Names } from '@farmbrain/contracts';
import type { Pool } from '../postgres.js';
import { eraseMemory, type EraseRequest } from './eraseMemory.js';
import type { MemoryKeys } from './memoryKeys.js';

export interface EraseEverywhereDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: Names;
  keys: MemoryKeys;
  /** The live projection version's Postgres: which memory it is, whose, and what was derived from it. */
  pool: Pool;
}

export interface ErasePlan {
  /** The memory named, then the consolidated memories derived from it (nearest first). */
  memoryIds: string[];
  alreadyErased: boolean;
  /**
   * Agents whose ingress messages may hold the content: the owner, and agents whose writes naming
   * these memories were dead-lettered (an update by another agent is refused, but was published).
   */
  writers: string[];
}

export interface ErasedEverywhere {
  erased: { memoryId: string; eventId: string; keyDestroyed: boolean }[];
  /** One token for every memory_erased published (read with it to see them applied). */
  consistencyToken: string;
}

/**
 * What erasing a memory of an agent erases: the memory, and every consolidated
 * memory derived from it (directly or through earlier canonicals), whose text
 * and embedding came from it and its group. Throws NOT_FOUND / NOT_OWNER.
 */
export async function planErasure(pool: Pool, agentId: string, memoryId: string): Promise<ErasePlan> {
  const r = await pool.query<{ agent_id: string; erased: boolean }>('SELECT agent_id, erased_at IS NOT NULL AS erased FROM memories WHERE memory_id = $1', [memoryId]);
  const row = r.rows[0];
  if (!row) throw new FarmbrainError('NOT_FOUND', `memory '${memoryId}' was not found; if it was stored just now, retry once it is applied`);
  if (row.agent_id !== agentId) throw new FarmbrainError('NOT_OWNER', `memory '${memoryId}' belongs to agent '${row.agent_id}', not '${agentId}'`);
  const d = await pool.query<{ memory_id: string }>(
    `WITH RECURSIVE derived(memory_id, depth) AS (
       SELECT memory_id, 1 FROM memories WHERE $1 = ANY(merged_ids)
       UNION
       SELECT m.memory_id, derived.depth + 1 FROM memories m JOIN derived ON derived.memory_id = ANY(m.merged_ids) WHERE derived.depth < 64)
     SELECT d.memory_id FROM derived d JOIN memories m USING (memory_id)
      WHERE m.erased_at IS NULL GROUP BY d.memory_id ORDER BY min(d.depth), d.memory_id`,
    [memoryId],
  );
  const memoryIds = [memoryId, ...d.rows.map((x) => x.memory_id)];
  const w = await pool.query<{ agent_id: string }>(
    `SELECT DISTINCT agent_id FROM projection_dead_letters WHERE agent_id <> $1 AND EXISTS (SELECT 1 FROM unnest($2::text[]) m WHERE position(m IN reason) > 0)`,
    [agentId, memoryIds],
  );
  return { memoryIds, alreadyErased: row.erased, writers: [agentId, ...w.rows.map((x) => x.agent_id).sort()] };
}

/**
 * Erases a memory and what was derived from it (planErasure): for each, its key
 * is destroyed and memory_erased is published (eraseMemory), one log row each.
 * Call scrubIngress once the erasures are applied, to remove the copies in the
 * clear that ingest read before sealing.
 */
export async function eraseEverywhere(d: EraseEverywhereDeps, r: EraseRequest): Promise<ErasedEverywhere & ErasePlan> {
  const plan = await planErasure(d.pool, r.agentId, r.memoryId);
  const erased: ErasedEverywhere['erased'] = [];
  let token: string | undefined;
  for (const id of plan.memoryIds) {
    const reason = id === r.memoryId ? r.reason : `derived from erased memory ${r.memoryId} (consolidation): ${r.reason}`.slice(0, 1024);
    const e = await eraseMemory(d, { agentId: r.agentId, memoryId: id, reason, operator: r.operator });
    erased.push({ memoryId: id, eventId: e.eventId, keyDestroyed: e.keyDestroyed });
    token = mergeConsistencyTokens(token, consistencyTokenOf(e.partition, e.ingressSeq), d.names.partitions);
  }
  return { ...plan, erased, consistencyToken: token! };
}

/** Whether an event carries content of one of these memories (the text or embedding of a store or update, or a canonical's merge). */
const carries = (e: FarmEvent, ids: ReadonlySet<string>): boolean =>
  ((e.type === 'memory_stored' || e.type === 'memory_updated') && ids.has(e.data.memoryId))
  || (e.type === 'memories_consolidated' && (ids.has(e.data.canonicalMemoryId) || e.data.mergedIds.some((m) => ids.has(m))));

/**
 * Deletes (with JetStream's secure erase, which overwrites the bytes) the
 * messages of the agents (ErasePlan.writers) on the ingress and dead-letter streams that
 * carry content of these memories: what agents published is sealed by ingest
 * only on its way to the canonical log, so those two streams hold it in the
 * clear (for FB_INGRESS_MAX_AGE_MS and FB_DLQ_MAX_AGE_MS). Call it after the
 * erasures are applied: ingest has then read every earlier message of the
 * agent, so nothing unread is deleted. Other events in a deleted ingress
 * message are already on the canonical log. Returns how many messages went.
 */
export async function scrubIngress({ js, jsm, names }: Pick<EraseEverywhereDeps, 'js' | 'jsm' | 'names'>, agentIds: readonly string[], memoryIds: readonly string[]): Promise<number> {
  const ids = new Set(memoryIds);
  const needles = [...ids].map((id) => Buffer.from(id));
  let deleted = 0;
  const where = [...new Set(agentIds)].flatMap((a) => [[names.ingressStream, names.ingressSubject(a), true], [names.deadLetterStream, names.deadLetterSubject(a), false]] as const);
  for (const [stream, subject, batched] of where) {
    const info = await jsm.streams.info(stream, { subjects_filter: subject });
    if (((info.state.subjects as Record<string, number> | undefined)?.[subject] ?? 0) === 0) continue;
    const seqs: number[] = [];
    const it = await (await js.consumers.get(stream, { filter_subjects: subject })).consume();
    try {
      for await (const m of it) {
        const body = Buffer.from(m.data);
        if (needles.some((n) => body.includes(n))) {
          let hit: boolean;
          try {
            hit = batched ? decodeBatch(m.data).some((x) => x.event !== undefined && carries(x.event, ids)) : carries(decodeEvent(m.data), ids);
          } catch {
            hit = true; // a body that does not decode but names the memory: it goes too
          }
          if (hit) seqs.push(m.seq);
        }
        if (m.info.pending === 0) break;
      }
    } finally {
      await it.close();
    }
    for (const seq of seqs) if (await jsm.streams.deleteMessage(stream, seq, true)) deleted++;
  }
  return deleted;
}
