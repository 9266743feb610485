import type { Redis } from 'ioredis';
import type { Pool } from '@farmbrain/platform';
import { hotKeys } from '@farmbrain/store';

/** Tiers a dashboard shows (deleted: tombstones left by retention, their bytes gone). */
export const METRIC_TIERS = ['hot', 'warm', 'cold', 'archive', 'deleted'] as const;
export type MetricTier = (typeof METRIC_TIERS)[number];

export interface TierFigure {
  records: number;
  bytes: number;
}

export interface TierMetrics {
  /** When it was measured (ISO). */
  at: string;
  /** Fleet-wide, per tier. */
  tiers: Record<MetricTier, TierFigure>;
  /** Per agent and tier (agents with nothing in a tier leave it out). */
  agents: { agentId: string; tiers: Partial<Record<MetricTier, TierFigure>> }[];
  /** Recall hits by the tier that served their content, and the hot share. */
  recallHits: { hot: number; warm: number; hotRatio: number | null };
  /** Moves applied, per policy. */
  moves: { policy: string; moves: number; records: number; bytesBefore: number; bytesAfter: number }[];
  /** Consolidation: canonical memories and the originals they replaced in recall. */
  consolidation: { canonical: number; merged: number };
}

/** Warm tables a record kind lives in, with their agent column (memories: live ones). */
const WARM = [
  ['decisions', 'true'],
  ['trades', 'true'],
  ['checkpoints', 'true'],
  ['recalls', 'true'],
  ['memories', 'forgotten_at IS NULL'],
] as const;

const add = (into: Partial<Record<MetricTier, TierFigure>>, tier: MetricTier, records: number, bytes: number) => {
  const f = (into[tier] ??= { records: 0, bytes: 0 });
  f.records += records;
  f.bytes += bytes;
};

/**
 * Bytes and record counts per tier and agent, recall hit shares, moves per
 * policy and consolidation counts, for the dashboard. Warm bytes are the rows'
 * own (pg_column_size, without indexes); cold and archive bytes are the blocks'
 * compressed payloads; hot bytes are Redis' MEMORY USAGE of each agent's copy.
 * It reads whole tables: meant for a dashboard refreshed every few seconds on a
 * fleet's store, not for a hot path.
 */
export async function readTierMetrics(pool: Pool, hot?: { redis: Redis; prefix: string }, now = new Date()): Promise<TierMetrics> {
  const byAgent = new Map<string, Partial<Record<MetricTier, TierFigure>>>();
  const agent = (id: string) => {
    let a = byAgent.get(id);
    if (!a) byAgent.set(id, (a = {}));
    return a;
  };
  for (const [table, where] of WARM) {
    const r = await pool.query<{ agent_id: string; n: number; b: number }>(
      `SELECT agent_id, count(*)::bigint AS n, coalesce(sum(pg_column_size(t.*)), 0)::bigint AS b FROM ${table} t WHERE ${where} GROUP BY agent_id`,
    );
    for (const row of r.rows) add(agent(row.agent_id), 'warm', Number(row.n), Number(row.b));
  }
  const blocks = await pool.query<{ agent_id: string; tier: MetricTier; n: number; b: number }>(
    `SELECT agent_id, tier, sum(records)::bigint AS n, sum(CASE WHEN tier = 'deleted' THEN 0 ELSE stored_bytes END)::bigint AS b FROM cold_blocks GROUP BY agent_id, tier`,
  );
  for (const row of blocks.rows) add(agent(row.agent_id), row.tier, Number(row.n), Number(row.b));
  if (hot) {
    const ids = (await pool.query<{ agent_id: string }>('SELECT agent_id FROM agents')).rows.map((r) => r.agent_id);
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      const p = hot.redis.pipeline();
      for (const id of chunk) {
        const [, decisions, , , memories] = hotKeys(hot.prefix, id);
        p.zcard(decisions);
        p.hlen(memories);
        for (const k of hotKeys(hot.prefix, id)) p.memory('USAGE', k);
      }
      const res = (await p.exec()) ?? [];
      const per = 2 + hotKeys(hot.prefix, '').length;
      chunk.forEach((id, j) => {
        const at = (k: number) => Number(res[j * per + k]?.[1] ?? 0);
        const records = at(0) + at(1);
        let bytes = 0;
        for (let k = 2; k < per; k++) bytes += at(k);
        if (records > 0 || bytes > 0) add(agent(id), 'hot', records, bytes);
      });
    }
  }
  const tiers = Object.fromEntries(METRIC_TIERS.map((t) => [t, { records: 0, bytes: 0 }])) as Record<MetricTier, TierFigure>;
  for (const a of byAgent.values()) for (const [t, f] of Object.entries(a) as [MetricTier, TierFigure][]) add(tiers, t, f.records, f.bytes);
  const hits = await pool.query<{ tier: string; n: number }>(`SELECT h->>'tier' AS tier, count(*)::bigint AS n FROM recalls, jsonb_array_elements(hits) h GROUP BY 1`);
  const hitOf = (t: string) => Number(hits.rows.find((r) => r.tier === t)?.n ?? 0);
  const recallHits = { hot: hitOf('hot'), warm: hitOf('warm'), hotRatio: null as number | null };
  if (recallHits.hot + recallHits.warm > 0) recallHits.hotRatio = recallHits.hot / (recallHits.hot + recallHits.warm);
  const moves = await pool.query<{ policy: string; moves: number; records: number; before: number; after: number }>(
    `SELECT policy, count(*)::bigint AS moves, sum(records)::bigint AS records, sum(bytes_before)::bigint AS before, sum(bytes_after)::bigint AS after
       FROM lifecycle_moves GROUP BY policy ORDER BY policy`,
  );
  const consolidation = await pool.query<{ canonical: number; merged: number }>(
    `SELECT count(*) FILTER (WHERE cardinality(merged_ids) > 0)::bigint AS canonical, coalesce(sum(cardinality(merged_ids)), 0)::bigint AS merged FROM memories`,
  ).catch(() => ({ rows: [{ canonical: 0, merged: 0 }] }));
  return {
    at: now.toISOString(),
    tiers,
    agents: [...byAgent].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([agentId, t]) => ({ agentId, tiers: t })),
    recallHits,
    moves: moves.rows.map((r) => ({ policy: r.policy, moves: Number(r.moves), records: Number(r.records), bytesBefore: Number(r.before), bytesAfter: Number(r.after) })),
    consolidation: { canonical: Number(consolidation.rows[0]?.canonical ?? 0), merged: Number(consolidation.rows[0]?.merged ?? 0) },
  };
}
