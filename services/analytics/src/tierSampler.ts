import { SAMPLED_TIERS } from '@farmbrain/analytics';
import { readTierMetrics } from '@farmbrain/lifecycle';
import type { createRedis, Logger, Pool } from '@farmbrain/platform';
import type { ProjectionRegistry } from '@farmbrain/projection';


export interface TierSamplerDeps {
  /** The analytics schema's pool (tier_samples). */
  pool: Pool;
  registry: ProjectionRegistry;
  /** tiering's first version (the registry's default live one). */
  tieringProjection: string;
  /** A pool on a tiering version's schema, from the composition root (schemaPools: it keeps the live one's only). */
  poolFor: (schema: string) => Pool;
  redis: ReturnType<typeof createRedis>;
  intervalMs: number;
  /** Whether this instance samples now (the owner of partition 0: one sampler in the deployment). */
  sampling: () => boolean;
  log: Logger;
  now?: () => number;
}

/**
 * Every `intervalMs`, while this instance owns partition 0, reads tier sizes from the live tiering version
 * (its schema and Redis prefix, from the projection registry) and writes them to tier_samples at the start of
 * the current interval (an instance taking over mid-interval rewrites that sample, it adds none).
 */
export function startTierSampler(d: TierSamplerDeps): { stop(): Promise<void>; sampleNow(): Promise<void> } {
  const now = d.now ?? Date.now;
  const sampleNow = async () => {
    const versions = await d.registry.read('tiering', d.tieringProjection);
    const live = versions.versions[versions.live];
    if (!live) return;
    const m = await readTierMetrics(d.poolFor(live.schema), { redis: d.redis, prefix: live.redisPrefix });
    const t = new Date(Math.floor(now() / d.intervalMs) * d.intervalMs);
    await d.pool.query(
      `INSERT INTO tier_samples (t, tier, bytes, records) SELECT $1, u.tier, u.bytes, u.records FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS u(tier, bytes, records)
       ON CONFLICT (t, tier) DO UPDATE SET bytes = EXCLUDED.bytes, records = EXCLUDED.records`,
      [t, [...SAMPLED_TIERS], SAMPLED_TIERS.map((k) => m.tiers[k].bytes), SAMPLED_TIERS.map((k) => m.tiers[k].records)]);
  };
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running || !d.sampling()) return;
    running = sampleNow()
      .catch((err: unknown) => d.log.warn({ err }, 'tier sample failed (the tiering schema may not exist yet); the next interval retries'))
      .finally(() => { running = undefined; });
  };
  const timer = d.intervalMs > 0 ? setInterval(tick, d.intervalMs) : undefined;
  timer?.unref();
  if (d.intervalMs > 0) setTimeout(tick, 1000).unref();
  return {
    sampleNow,
    stop: async () => {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}

/**
 * Pools by schema for a reader that follows one live version (the tier sampler): `poolFor(schema)` opens a
 * schema's pool once (with `open`, which the composition root gives) and closes the pools of the other schemas,
 * no longer live (a switch, a drop); `close()` closes what is left, at shutdown.
 */
export function schemaPools(open: (schema: string) => Pool): { poolFor(schema: string): Pool; close(): Promise<void>; schemas(): string[] } {
  const pools = new Map<string, Pool>();
  const closing: Promise<unknown>[] = [];
  return {
    poolFor(schema) {
      for (const [s, p] of pools) {
        if (s === schema) continue;
        pools.delete(s);
        closing.push(p.end().catch(() => undefined));
      }
      let p = pools.get(schema);
      if (!p) pools.set(schema, (p = open(schema)));
      return p;
    },
    async close() {
      for (const p of pools.values()) closing.push(p.end().catch(() => undefined));
      pools.clear();
      await Promise.all(closing);
    },
    schemas: () => [...pools.keys()],
  };
}
