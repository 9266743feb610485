import type { Pool } from '@farmbrain/platform';
import { grainFor } from './buckets.js';
import { latencySummary } from './histogram.js';
import { emptyHistogram, overlapping } from './sums.js';
import type { LatencySummary, Scope } from './types.js';

/**
 * Recall latency of one scope over [from, to): the log-scale histograms of the buckets overlapping it, at the
 * grain grainFor(to − from), summed, then read (p50, p95, p99; null without recalls). Pass bucket-aligned
 * bounds to read whole buckets only. Pool: search_path = the analytics schema.
 */
export async function readRecallLatency(pool: Pool, q: { from: number; to: number; scope: Scope; id: string }): Promise<LatencySummary> {
  const grain = grainFor(q.to - q.from);
  const [from, to] = overlapping(grain, q.from, q.to);
  const r = await pool.query<{ bin: number; n: string }>(
    'SELECT bin, sum(n)::bigint AS n FROM rollup_latency WHERE scope = $1 AND scope_id = $2 AND grain = $3 AND bucket > $4 AND bucket < $5 GROUP BY bin',
    [q.scope, q.id, grain, from, to],
  );
  const counts = emptyHistogram();
  for (const row of r.rows) if (row.bin >= 0 && row.bin < counts.length) counts[row.bin] = Number(row.n);
  return latencySummary(counts);
}
