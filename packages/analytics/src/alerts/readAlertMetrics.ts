import { quoteIdent, type Pool } from '@farmbrain/platform';
import { grainFor } from '../buckets.js';
import { readRecallLatency } from '../readRecallLatency.js';
import { overlapping } from '../sums.js';

/**
 * The figures the alert rules watch that the rollups hold. Windows are read at
 * the grain readers use for them (grainFor), over the buckets overlapping
 * [from, to). Pool: search_path = the analytics schema.
 */

/** Fleet-wide recall latency p95 (ms) over [from, to), from the summed histogram (readRecallLatency); null without recalls. */
export async function readRecallP95(pool: Pool, q: { from: number; to: number }): Promise<{ p95: number | null; n: number }> {
  const { p95, n } = await readRecallLatency(pool, { from: q.from, to: q.to, scope: 'fleet', id: '' });
  return { p95, n };
}

/** Closes and wins per agent over [from, to) (agents without a close there are absent). */
export async function readWinCounts(pool: Pool, q: { from: number; to: number }): Promise<Map<string, { closes: number; wins: number }>> {
  const grain = grainFor(q.to - q.from);
  const [from, to] = overlapping(grain, q.from, q.to);
  const r = await pool.query<{ agent_id: string; closes: string; wins: string }>(
    `SELECT scope_id AS agent_id, sum(closes)::bigint AS closes, sum(wins)::bigint AS wins FROM rollups
      WHERE scope = 'agent' AND grain = $1 AND bucket > $2 AND bucket < $3 GROUP BY scope_id HAVING sum(closes) > 0`,
    [grain, from, to],
  );
  return new Map(r.rows.map((x) => [x.agent_id, { closes: Number(x.closes), wins: Number(x.wins) }]));
}

/** The latest tier sample at or after `since`: bytes per tier, or undefined when the sampler wrote none. */
export async function readLatestTierBytes(pool: Pool, since: number): Promise<{ t: number; bytes: Record<string, number> } | undefined> {
  const r = await pool.query<{ t: Date; tier: string; bytes: string }>(
    'SELECT t, tier, bytes FROM tier_samples WHERE t = (SELECT max(t) FROM tier_samples WHERE t >= $1)', [new Date(since)]);
  if (r.rows.length === 0) return undefined;
  return { t: r.rows[0]!.t.getTime(), bytes: Object.fromEntries(r.rows.map((x) => [x.tier, Number(x.bytes)])) };
}

/**
 * Dead letters per projection recorded since `since` and not replayed, in `schema` (schema-qualified: any
 * projection version's), for every projection with a checkpoint there (0 when it has none).
 */
export async function countProjectionDeadLetters(pool: Pool, schema: string, since: number): Promise<Map<string, number>> {
  const s = quoteIdent(schema);
  const r = await pool.query<{ projection: string; n: string }>(
    `SELECT c.projection, (SELECT count(*) FROM ${s}.projection_dead_letters d
                            WHERE d.projection = c.projection AND d.dead_lettered_at >= $1 AND d.replayed_at IS NULL)::bigint AS n
       FROM (SELECT DISTINCT projection FROM ${s}.projection_checkpoints) c`,
    [new Date(since)],
  );
  return new Map(r.rows.map((x) => [x.projection, Number(x.n)]));
}
