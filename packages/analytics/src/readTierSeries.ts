import type { Pool } from '@farmbrain/platform';
import { SAMPLED_TIERS, type SampledTier, type TierPoint } from './types.js';

const emptyTiers = (): TierPoint['tiers'] => Object.fromEntries(SAMPLED_TIERS.map((t) => [t, { bytes: 0, records: 0 }])) as TierPoint['tiers'];

/** Tier samples taken in [from, to), oldest first. Pool: search_path = the analytics schema. */
export async function readTierSeries(pool: Pool, q: { from: number; to: number }): Promise<TierPoint[]> {
  const r = await pool.query<{ t: Date; tier: SampledTier; bytes: string; records: string }>(
    'SELECT t, tier, bytes, records FROM tier_samples WHERE t >= $1 AND t < $2 ORDER BY t, tier', [new Date(q.from), new Date(q.to)]);
  const points = new Map<number, TierPoint>();
  for (const row of r.rows) {
    const t = row.t.getTime();
    let p = points.get(t);
    if (!p) points.set(t, (p = { t, tiers: emptyTiers() }));
    if (row.tier in p.tiers) p.tiers[row.tier] = { bytes: Number(row.bytes), records: Number(row.records) };
  }
  return [...points.values()];
}
