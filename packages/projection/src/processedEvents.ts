import type { PoolClient } from '@farmbrain/platform';

/**
 * Marks these events processed by `projection` and returns the ids that were
 * not already marked: the only ones to apply (for a projection whose own rows
 * are not keyed by event id; see KEYED_BY_ROW for the types tiering keys itself). Runs in the batch's transaction,
 * so an event counts as processed exactly when its effects (or its dead
 * letter) committed. This is what makes every effect of a projection keyed by
 * event id, whatever it writes: duplicates in one message, in one batch, in
 * adjacent batches or days apart all apply once.
 */
export async function claimEvents(c: PoolClient, projection: string, eventIds: readonly string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  const r = await c.query<{ event_id: string }>(
    `INSERT INTO projection_events (projection, event_id)
     SELECT $1, id FROM unnest($2::uuid[]) AS x(id)
     ON CONFLICT DO NOTHING
     RETURNING event_id`,
    [projection, eventIds],
  );
  return new Set(r.rows.map((row) => row.event_id));
}

/**
 * A replay of a dead letter (after a fix): the projection forgets it had
 * processed the event, so the claim that follows hands it over again, and
 * marks the dead letter replayed. Only a dead letter of this projection, for
 * this very event, not replayed yet, is honoured: anything else is an ordinary
 * duplicate.
 */
export async function releaseForReplay(c: PoolClient, projection: string, deadLetterId: number, eventIds: readonly string[]): Promise<void> {
  if (eventIds.length === 0) return;
  const r = await c.query<{ event_id: string }>(
    `UPDATE projection_dead_letters SET replayed_at = now()
      WHERE id = $1 AND projection = $2 AND event_id = ANY($3::uuid[]) AND replayed_at IS NULL
      RETURNING event_id::text`,
    [deadLetterId, projection, eventIds],
  );
  if (r.rows.length === 0) return;
  await c.query('DELETE FROM projection_events WHERE projection = $1 AND event_id = ANY($2::uuid[])', [projection, r.rows.map((row) => row.event_id)]);
}
