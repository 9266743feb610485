import type { EventOf } from '@farmbrain/contracts';
import type { PoolClient } from '@farmbrain/platform';
import type { SeqEvent } from '@farmbrain/projection';
import type { Skip } from './warmStore.js';

/**
 * The agent's row as a registration or state change left it, kept under the
 * event's id (ON CONFLICT: a replay adds nothing): the history time-travel
 * reads reconstruct "who was the agent then" from.
 */
export async function recordAgentHistory(c: PoolClient, e: SeqEvent & (EventOf<'agent_registered'> | EventOf<'agent_state_changed'>)): Promise<void> {
  await c.query(
    `INSERT INTO agent_history (event_id, agent_id, occurred_at, stream_seq, name, team, strategy, config, status, registered_at)
     SELECT $1, agent_id, to_timestamp($2 / 1000.0), $3, name, team, strategy, config, status, registered_at FROM agents WHERE agent_id = $4
     ON CONFLICT (event_id) DO NOTHING`,
    [e.eventId, e.occurredAt, e.streamSeq, e.agentId],
  );
}

/**
 * agent_restored: the agent goes back to one of its own checkpoints (in any
 * tier but deleted), which becomes its current one. A checkpoint it does not
 * have is refused (dead-lettered UNKNOWN_CHECKPOINT): nothing changes.
 */
export async function applyRestores(c: PoolClient, events: readonly (SeqEvent & EventOf<'agent_restored'>)[]): Promise<Skip[]> {
  const skipped: Skip[] = [];
  for (const e of events) {
    const id = e.data.checkpointId.toLowerCase();
    const known = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id) && (await c.query(
      `SELECT 1 FROM checkpoints WHERE event_id = $1 AND agent_id = $2
       UNION ALL SELECT 1 FROM cold_blocks WHERE event_ids @> ARRAY[$1]::uuid[] AND agent_id = $2 AND kind = 'checkpoint' AND tier <> 'deleted'
       LIMIT 1`, [id, e.agentId],
    )).rowCount;
    if (!known) {
      skipped.push({ event: e, code: 'UNKNOWN_CHECKPOINT', reason: `agent ${e.agentId} has no checkpoint ${e.data.checkpointId} (or retention deleted it); list them: GET /v1/agents/${e.agentId}/checkpoints` });
      continue;
    }
    await c.query(
      `INSERT INTO agent_restores (event_id, agent_id, checkpoint_id, reason, operator, restored_at, stream_seq)
       VALUES ($1, $2, $3, $4, $5, to_timestamp($6 / 1000.0), $7) ON CONFLICT (event_id) DO NOTHING`,
      [e.eventId, e.agentId, id, e.data.reason, e.data.operator, e.occurredAt, e.streamSeq],
    );
  }
  return skipped;
}
