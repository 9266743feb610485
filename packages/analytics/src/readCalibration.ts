import type { Pool } from '@farmbrain/platform';
import type { Calibration, RollupQuery } from './types.js';
import { CALIBRATION_BINS } from './calibration.js';
import { grainFor } from './buckets.js';
import { overlapping, ratio } from './sums.js';

/** The reliability curve from bin sums (bins absent from `rows` have n = 0). */
export function calibrationOf(rows: readonly { bin: number; n: number; wins: number; confidenceSum: number }[], brierSum: number): Calibration {
  const bins = Array.from({ length: CALIBRATION_BINS }, (_, b) => ({ lo: b / CALIBRATION_BINS, hi: (b + 1) / CALIBRATION_BINS, n: 0, wins: 0, confidenceSum: 0 }));
  for (const r of rows) {
    const b = bins[r.bin];
    if (!b) continue;
    b.n += r.n;
    b.wins += r.wins;
    b.confidenceSum += r.confidenceSum;
  }
  const n = bins.reduce((a, b) => a + b.n, 0);
  return {
    n,
    brier: ratio(brierSum, n),
    bins: bins.map(({ lo, hi, n: bn, wins, confidenceSum }) => ({ lo, hi, n: bn, wins, meanConfidence: ratio(confidenceSum, bn), winRate: ratio(wins, bn) })),
  };
}

/** Decisions scored in [from, to) (by their position_closed), by confidence bin. Pool: search_path = the analytics schema. */
export async function readCalibration(pool: Pool, q: Omit<RollupQuery, 'grain'>): Promise<Calibration> {
  const grain = grainFor(q.to - q.from);
  const [from, to] = overlapping(grain, q.from, q.to);
  const args = [q.scope, q.id, grain, from, to];
  const where = 'scope = $1 AND scope_id = $2 AND grain = $3 AND bucket > $4 AND bucket < $5';
  const [bins, brier] = await Promise.all([
    pool.query<{ bin: number; n: string; wins: string; c: number }>(
      `SELECT bin, sum(n)::bigint AS n, sum(wins)::bigint AS wins, coalesce(sum(confidence_sum), 0)::float8 AS c FROM rollup_calibration WHERE ${where} GROUP BY bin`, args),
    pool.query<{ b: number }>(`SELECT coalesce(sum(brier_sum), 0)::float8 AS b FROM rollups WHERE ${where}`, args),
  ]);
  return calibrationOf(bins.rows.map((r) => ({ bin: r.bin, n: Number(r.n), wins: Number(r.wins), confidenceSum: r.c })), brier.rows[0]?.b ?? 0);
}
