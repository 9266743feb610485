import type { Logger, Pool } from '@farmbrain/platform';
import { readAgentViews, type AgentSummary, type AgentView, type HotView, type ViewLimits } from '@farmbrain/store';

/** An agent's current state as GET /v1/agents/:id answers it. */
export interface AgentState extends AgentSummary {
  openPositions: AgentView['positions'];
  recentDecisions: AgentView['decisions'];
  recentMemories: AgentView['memories'];
  /** Which tier answered: 'hot' (Redis: a complete copy) or 'warm' (Postgres). */
  source: 'hot' | 'warm';
}

/** How much of the view a state read shows. */
export const STATE_SHOWS: ViewLimits = { decisions: 10, memories: 10 };

const stateOf = (v: AgentView, source: AgentState['source']): AgentState => ({
  ...v.summary, openPositions: v.positions, recentDecisions: v.decisions, recentMemories: v.memories, source,
});

/**
 * Reads an agent's state from the hot tier when it holds a complete copy, else
 * from Postgres: the same view either way (see @farmbrain/store). Redis down or
 * slow means Postgres answers (its timeout bounds the wait); Postgres down
 * while the copy is hot still answers. Undefined: the agent is unknown.
 */
export class AgentStateReader {
  constructor(private readonly pool: Pool, private readonly hot: HotView, private readonly log: Logger) {}

  async read(agentId: string): Promise<AgentState | undefined> {
    const hot = await this.hot.read(agentId, STATE_SHOWS).catch((err: unknown) => {
      this.log.debug({ err, agentId }, 'hot tier unavailable; reading Postgres');
      return undefined;
    });
    if (hot) return stateOf(hot, 'hot');
    const warm = (await readAgentViews(this.pool, [agentId], STATE_SHOWS)).get(agentId);
    return warm ? stateOf(warm, 'warm') : undefined;
  }
}
