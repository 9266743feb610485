import type { Pool } from '@farmbrain/platform';

/** Waiting for moves to be applied is the projection kit's (checkpoints.ts): one reader of the checkpoints. */
export { waitApplied, NotAppliedError as MovesNotAppliedError } from '@farmbrain/projection';

/** Moves tiering refused (dead-lettered, not replayed since), by event id: why each was not applied. */
export async function refusedMoves(pool: Pool, projection: string, eventIds: readonly string[]): Promise<{ moveId: string; code: string; reason: string }[]> {
  if (eventIds.length === 0) return [];
  const r = await pool.query<{ event_id: string; code: string; reason: string }>(
    `SELECT DISTINCT ON (event_id) event_id::text, code, reason FROM projection_dead_letters
      WHERE projection = $1 AND event_id = ANY($2::uuid[]) AND replayed_at IS NULL ORDER BY event_id, id DESC`,
    [projection, [...eventIds]],
  );
  return r.rows.map((x) => ({ moveId: x.event_id, code: x.code, reason: x.reason }));
}
