import type { Pool } from '@farmbrain/platform';
import type { Indicators, Scope } from './types.js';
import { grainFor, GRAIN_MS, bucketOf } from './buckets.js';
import { decisionQuality, learningProgress, memoryEfficiency } from './indicators.js';
import { countersOf, SUM_COUNTERS } from './sums.js';

/**
 * The indicators of one scope over the window ending at `now`, from the buckets whose start lies in
 * [now − windowMs, now) at the grain grainFor(windowMs) picks. tierBytes: bytes held (all tiers; default: the
 * latest tier sample). Pool: search_path = the analytics schema.
 */
export async function readIndicators(pool: Pool, q: { scope: Scope; id: string; windowMs: number; now: number; tierBytes?: number }): Promise<Indicators> {
  const grain = grainFor(q.windowMs);
  const to = bucketOf(q.now, grain) + GRAIN_MS[grain];
  const from = to - Math.max(GRAIN_MS[grain], Math.ceil(q.windowMs / GRAIN_MS[grain]) * GRAIN_MS[grain]);
  const mid = from + Math.floor((to - from) / 2 / GRAIN_MS[grain]) * GRAIN_MS[grain];
  const halves = await pool.query<Record<string, unknown> & { second: boolean }>(
    `SELECT bucket >= $6 AS second, ${SUM_COUNTERS} FROM rollups WHERE scope = $1 AND scope_id = $2 AND grain = $3 AND bucket >= $4 AND bucket < $5 GROUP BY 1`,
    [q.scope, q.id, grain, new Date(from), new Date(to), new Date(mid)],
  );
  const first = countersOf(halves.rows.find((r) => !r.second) ?? {});
  const second = countersOf(halves.rows.find((r) => r.second) ?? {});
  const all = countersOf({});
  for (const k of Object.keys(all) as (keyof typeof all)[]) all[k] = first[k] + second[k];
  let tierBytes: number | null = q.tierBytes ?? null;
  if (q.tierBytes === undefined) {
    const t = await pool.query<{ b: string | null }>('SELECT sum(bytes)::bigint AS b FROM tier_samples WHERE t = (SELECT max(t) FROM tier_samples)');
    tierBytes = t.rows[0]?.b == null ? null : Number(t.rows[0].b);
  }
  return {
    window: { from, to, grain },
    decisionQuality: decisionQuality(all),
    learningProgress: learningProgress(first, second, Math.min(mid - from, to - mid)),
    memoryEfficiency: memoryEfficiency(all, tierBytes),
  };
}
