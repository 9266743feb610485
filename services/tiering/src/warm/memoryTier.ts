import type { EventOf } from '@farmbrain/contracts';
import type { PoolClient } from '@farmbrain/platform';
import type { SeqEvent } from '@farmbrain/projection';

type Move = SeqEvent & EventOf<'records_moved'>;

/** What a memory move could not do: dead-lettered with this code (see lifecycle.ts's LifecycleSkip). */
export interface MemoryMoveSkip {
  event: SeqEvent;
  code: 'UNSUPPORTED_MOVE' | 'INVALID_MOVE';
  reason: string;
}

/**
 * A memory move (records_moved, kind memory): the named memories of the agent
 * go from warm to hot (recalled often: the gateway keeps their content in Redis
 * for the memory policy's hotIdleMinutes) or back from hot to warm (idle). Only
 * live memories of the agent, in the tier the move comes from, change; the move
 * is recorded with how many did.
 */
export async function applyMemoryMove(c: PoolClient, e: Move): Promise<MemoryMoveSkip | undefined> {
  const d = e.data;
  if (!((d.fromTier === 'warm' && d.toTier === 'hot') || (d.fromTier === 'hot' && d.toTier === 'warm'))) {
    return { event: e, code: 'UNSUPPORTED_MOVE', reason: `memories move between warm and hot only (recalled often: promoted; idle: demoted), not from ${d.fromTier} to ${d.toTier}` };
  }
  if (d.recordIds.length === 0) return { event: e, code: 'INVALID_MOVE', reason: 'a memory move names its memories (recordIds); memories do not move by day' };
  const moved = await c.query(
    `UPDATE memories SET tier = $3, tier_since = to_timestamp($5 / 1000.0)
      WHERE agent_id = $1 AND memory_id = ANY($2::text[]) AND tier = $4 AND forgotten_at IS NULL
      RETURNING memory_id`,
    [e.agentId, [...new Set(d.recordIds)], d.toTier, d.fromTier, e.occurredAt],
  );
  await c.query(
    `INSERT INTO lifecycle_moves (event_id, agent_id, kind, from_tier, to_tier, day, records, bytes_before, bytes_after, policy, reason,
                                  moved_at, stream_seq, held, block_ids)
     VALUES ($1, $2, 'memory', $3, $4, NULL, $5, 0, 0, $6, $7, to_timestamp($8 / 1000.0), $9, 0, '{}')`,
    [e.eventId, e.agentId, d.fromTier, d.toTier, moved.rowCount ?? 0, d.policy, d.reason, e.occurredAt, e.streamSeq],
  );
  return undefined;
}
