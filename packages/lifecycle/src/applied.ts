import { decodeConsistencyToken, FarmbrainError } from '@farmbrain/contracts';
import type { Pool } from '@farmbrain/platform';

/** The projection did not apply the writes a token names within the bound. */
export class MovesNotAppliedError extends FarmbrainError {
  constructor(readonly pending: [number, number][], timeoutMs: number) {
    super('CONSISTENCY_TIMEOUT',
      `tiering has not applied the lifecycle moves within ${timeoutMs} ms (partition ${pending[0]?.[0]} is before ingress sequence ${pending[0]?.[1]}): ` +
      'is tiering running? The moves are on the log and will be applied; run again later to see the rest done');
    this.name = 'MovesNotAppliedError';
  }
}

/**
 * Resolves once the projection `projection` has applied every ingress message
 * a consistency token names (its checkpoints' ingress_seq, which also passes
 * writes ingest rejected); rejects with CONSISTENCY_TIMEOUT after `timeoutMs`.
 */
export async function waitApplied(pool: Pool, o: { projection: string; partitions: number; token: string | undefined; timeoutMs: number; pollMs?: number }): Promise<void> {
  if (!o.token) return;
  const marks = decodeConsistencyToken(o.token, o.partitions);
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const r = await pool.query<{ partition: number; ingress_seq: string }>('SELECT partition, ingress_seq FROM projection_checkpoints WHERE projection = $1', [o.projection]);
    const at = new Map(r.rows.map((x) => [x.partition, Number(x.ingress_seq)]));
    const pending = [...marks].filter(([p, s]) => (at.get(p) ?? 0) < s);
    if (pending.length === 0) return;
    if (Date.now() >= deadline) throw new MovesNotAppliedError(pending, o.timeoutMs);
    await new Promise((res) => setTimeout(res, o.pollMs ?? 50));
  }
}

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
