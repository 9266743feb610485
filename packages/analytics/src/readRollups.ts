import type { Pool } from '@farmbrain/platform';
import type { RollupBucket, RollupQuery } from './types.js';
import { latencySummary } from './histogram.js';
import { countersOf, decisionsOf, emptyHistogram, overlapping, ratio, SUM_COUNTERS } from './sums.js';
import type { Counters } from './accumulate.js';

/** A bucket's figures from its summed counters and latency histogram. */
export function rollupBucket(bucket: number, c: Counters, histogram: readonly number[]): RollupBucket {
  const total = decisionsOf(c);
  return {
    bucket,
    decisions: { buy: c.decisionsBuy, sell: c.decisionsSell, hold: c.decisionsHold, close: c.decisionsClose, total },
    trades: c.trades,
    closes: c.closes,
    wins: c.wins,
    winRate: ratio(c.wins, c.closes),
    pnl: c.pnl,
    pnlPerDecision: ratio(c.pnl, total),
    scored: c.scored,
    brier: ratio(c.brierSum, c.scored),
    memoryWrites: c.memoryWrites,
    recalls: c.recalls,
    recallHits: c.recallHits,
    hotHits: c.hotHits,
    hotHitRatio: ratio(c.hotHits, c.recallHits),
    usefulRecalls: c.usefulRecalls,
    consolidations: c.consolidations,
    merged: c.merged,
    latency: latencySummary(histogram),
  };
}

/** The buckets of one scope and grain overlapping [from, to), oldest first (buckets with no event are absent). Pool: search_path = the analytics schema. */
export async function readRollups(pool: Pool, q: RollupQuery): Promise<RollupBucket[]> {
  const [from, to] = overlapping(q.grain, q.from, q.to);
  const args = [q.scope, q.id, q.grain, from, to];
  const where = 'scope = $1 AND scope_id = $2 AND grain = $3 AND bucket > $4 AND bucket < $5';
  const [rows, bins] = await Promise.all([
    pool.query<Record<string, unknown> & { bucket: Date }>(`SELECT bucket, ${SUM_COUNTERS} FROM rollups WHERE ${where} GROUP BY bucket ORDER BY bucket`, args),
    pool.query<{ bucket: Date; bin: number; n: string }>(`SELECT bucket, bin, sum(n)::bigint AS n FROM rollup_latency WHERE ${where} GROUP BY bucket, bin`, args),
  ]);
  const hist = new Map<number, number[]>();
  for (const r of bins.rows) {
    const t = r.bucket.getTime();
    let h = hist.get(t);
    if (!h) hist.set(t, (h = emptyHistogram()));
    h[r.bin] = Number(r.n);
  }
  return rows.rows.map((r) => rollupBucket(r.bucket.getTime(), countersOf(r), hist.get(r.bucket.getTime()) ?? emptyHistogram()));
}
