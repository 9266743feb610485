import { partitionOf } from '@farmbrain/contracts';
import type { Logger, Pool } from '@farmbrain/platform';
import { readCheckpoints } from '@farmbrain/projection';
import { readAgentViews, type HotView } from '@farmbrain/store';

/**
 * Rebuilds, from Postgres, the hot copy of every agent of these partitions
 * whose copy is missing: what Redis lost when it restarted empty comes back
 * without waiting for each agent's next event. Each chunk reads its views and
 * the partitions' checkpoints in one snapshot, so a copy is written "as of"
 * the log position it reflects, and never over a newer one the partition
 * worker wrote meanwhile. Returns how many copies it rebuilt.
 */
export async function rehydrate(pool: Pool, hot: HotView, o: { projection: string; partitions: number; owned: readonly number[]; log: Logger; chunk?: number }): Promise<number> {
  const ids = await agentsOf(pool, o.partitions, o.owned);
  // A partition whose mark is behind its checkpoint: Redis came back from an older snapshot (or a lagging
  // replica), so its copies may say complete and still lack changes. Mark them incomplete first: the rebuild
  // below then includes them (and the partition worker rebuilds any it touches meanwhile).
  const cps = await readCheckpoints(pool, o.projection);
  const cpOf = new Map([...cps].map(([p, c]) => [p, c.lastSeq]));
  const behind: number[] = [];
  for (const p of o.owned) if ((await hot.through(p)) < (cpOf.get(p) ?? 0)) behind.push(p);
  if (behind.length > 0) {
    const stale = ids.filter((a) => behind.includes(partitionOf(a, o.partitions)));
    await hot.invalidate(stale);
    o.log.warn({ partitions: behind, agents: stale.length }, 'Redis is behind the checkpoint of these partitions (it lost writes, or a batch is between its commit and Redis); rebuilding their hot copies');
  }
  let rebuilt = 0;
  const size = o.chunk ?? 200;
  for (let i = 0; i < ids.length; i += size) {
    const missing = await hot.incomplete(ids.slice(i, i + size));
    if (missing.length === 0) continue;
    const c = await pool.connect();
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const seqOf = new Map([...(await readCheckpoints(c, o.projection))].map(([p, cp]) => [p, cp.lastSeq]));
      const views = await readAgentViews(c, missing, hot.keep);
      await c.query('COMMIT');
      // One hydrate call per partition: each copy is as of its own partition's checkpoint.
      const byPartition = new Map<number, typeof views>();
      for (const [a, v] of views) {
        const p = partitionOf(a, o.partitions);
        if (!byPartition.has(p)) byPartition.set(p, new Map());
        byPartition.get(p)!.set(a, v);
      }
      for (const [p, vs] of byPartition) await hot.hydrate(vs, seqOf.get(p) ?? 0);
      rebuilt += views.size;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }
  for (const p of behind) await hot.markThrough(p, cpOf.get(p) ?? 0);
  if (rebuilt > 0) o.log.info({ rebuilt }, 'hot copies rebuilt from Postgres (they were missing or incomplete: Redis lost them, or an older layout)');
  return rebuilt;
}

/** The agents of these partitions (known to Postgres). */
export async function agentsOf(pool: Pool, partitions: number, owned: readonly number[]): Promise<string[]> {
  const set = new Set(owned);
  return (await pool.query<{ agent_id: string }>('SELECT agent_id FROM agents ORDER BY agent_id')).rows
    .map((r) => r.agent_id).filter((a) => set.has(partitionOf(a, partitions)));
}
