import { mergeConsistencyTokens, type ConsolidateRequest, type ConsolidateResponse } from '@farmbrain/contracts';
import { previewOptimize, readTierMetrics, runOptimize, type ConsolidationHook, type OptimizeDeps, type OptimizeReport, type TierMetrics } from '@farmbrain/lifecycle';
import type { Pool } from '@farmbrain/platform';
import type { LifecycleOps } from '../routes/optimize.js';

/**
 * The lifecycle operations of one projection version: tier metrics, and
 * optimize runs, one at a time per gateway (a second request waits for the
 * first: both plan from what the first left). Runs of two gateways at once are
 * safe: their moves have the same ids, which the log and tiering keep once.
 */
export function lifecycleOps(d: OptimizeDeps): LifecycleOps {
  let chain: Promise<unknown> = Promise.resolve();
  return {
    metrics: (): Promise<TierMetrics> => readTierMetrics(d.pool, d.hot),
    optimize(o): Promise<OptimizeReport> {
      const opts = { ...(o.steps ? { steps: o.steps } : {}), ...(o.agents ? { agents: o.agents } : {}) };
      const run = chain.then(() => (o.dryRun ? previewOptimize(d, opts) : runOptimize(d, opts)));
      chain = run.catch(() => undefined);
      return run;
    },
  };
}

/**
 * The consolidation step of an optimize run: the memory service's consolidation
 * (the one POST /v1/agents/:id/memories/consolidate runs, default thresholds) of
 * every agent in turn, or of the agents named.
 */
export function consolidationHook(pool: Pool, memory: { consolidate(agentId: string, req: ConsolidateRequest): Promise<ConsolidateResponse> }, partitions: number): ConsolidationHook {
  return async ({ dryRun, agents }) => {
    const ids = agents ?? (await pool.query<{ agent_id: string }>('SELECT agent_id FROM agents ORDER BY agent_id')).rows.map((r) => r.agent_id);
    let groups = 0;
    let merged = 0;
    let token: string | undefined;
    const warnings = new Set<string>();
    for (const id of ids) {
      const r = await memory.consolidate(id, { dryRun });
      groups += r.groups.length;
      merged += r.groups.reduce((n, g) => n + g.mergedIds.length, 0);
      token = mergeConsistencyTokens(token, r.consistencyToken, partitions);
      for (const w of r.warnings ?? []) warnings.add(w);
    }
    return { groups, merged, consistencyToken: token, ...(warnings.size > 0 ? { note: [...warnings].slice(0, 3).join('; ') } : {}) };
  };
}
