import type { Pool } from '@farmbrain/platform';
import type { AgentSummary } from './types.js';
import { grainFor } from './buckets.js';
import { countersOf, decisionsOf, overlapping, ratio, SUM_COUNTERS } from './sums.js';

/**
 * Every agent seen, with its figures over the buckets overlapping [from, to) (zeros when idle), most active
 * first. Pool: search_path = the analytics schema.
 */
export async function readAgentSummaries(pool: Pool, q: { from: number; to: number }): Promise<AgentSummary[]> {
  const grain = grainFor(q.to - q.from);
  const [from, to] = overlapping(grain, q.from, q.to);
  const r = await pool.query<Record<string, unknown> & { agent_id: string; name: string; team: string; last_event_at: Date | null }>(
    `SELECT a.agent_id, a.name, a.team, a.last_event_at, s.*
       FROM analytics_agents a
       LEFT JOIN LATERAL (SELECT ${SUM_COUNTERS} FROM rollups r WHERE r.scope = 'agent' AND r.scope_id = a.agent_id AND r.grain = $1 AND r.bucket > $2 AND r.bucket < $3) s ON true`,
    [grain, from, to],
  );
  return r.rows
    .map((row) => {
      const c = countersOf(row);
      return {
        agentId: row.agent_id, name: row.name, team: row.team, decisions: decisionsOf(c), trades: c.trades, winRate: ratio(c.wins, c.closes), pnl: c.pnl,
        brier: ratio(c.brierSum, c.scored), recalls: c.recalls, hotHitRatio: ratio(c.hotHits, c.recallHits), lastEventAt: row.last_event_at?.getTime() ?? null,
      };
    })
    .sort((a, b) => b.decisions - a.decisions || (a.agentId < b.agentId ? -1 : 1));
}
