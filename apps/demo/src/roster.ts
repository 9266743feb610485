/** Who is in the demo fleet: the teams, the agents of a fleet of N, and the scope policy written for them. */
import type { ScopePolicy } from '@farmbrain/contracts';

export type StrategyName = 'momentum' | 'mean-reversion' | 'breakout';

export interface Team {
  team: string;
  strategy: StrategyName;
  /** Agent ids are `<prefix>-<n>`. */
  prefix: string;
  /** Agent names are `<title> <n>`. */
  title: string;
}

export const TEAMS: readonly Team[] = Object.freeze([
  { team: 'momentum', strategy: 'momentum', prefix: 'momo', title: 'Momo' },
  { team: 'mean-reversion', strategy: 'mean-reversion', prefix: 'mrev', title: 'Reverter' },
  { team: 'breakout', strategy: 'breakout', prefix: 'brk', title: 'Breaker' },
]);

/** The agent that keeps the fleet's risk limits and raises fleet-wide alerts; it does not trade. */
export const RISK_DESK_ID = 'risk-desk';

/** Fleets have 1 to this many trading agents. */
export const MAX_AGENTS = 200;

export interface RosterEntry {
  index: number;
  id: string;
  name: string;
  team: string;
  strategy: StrategyName;
  /** The first agent of each team leads it: it writes the team's memories. */
  lead: boolean;
}

/** The demo agents for a fleet of `agents`: id, team, and whether it leads its team (the first of each). */
export function demoRoster(agents: number): RosterEntry[] {
  return Array.from({ length: agents }, (_, index) => {
    const t = TEAMS[index % TEAMS.length]!;
    const n = Math.floor(index / TEAMS.length) + 1;
    return { index, id: `${t.prefix}-${n}`, name: `${t.title} ${n}`, team: t.team, strategy: t.strategy, lead: n === 1 };
  });
}

/**
 * The scope policy the demo is written for (FB_SCOPE_POLICY format: JSON.stringify
 * it for the services): each team's lead writes the team's memories, the risk
 * desk writes the fleet's. No pinned teams: membership for reads comes from the
 * registrations.
 */
export function demoScopePolicy(agents: number): ScopePolicy {
  const writers: Record<string, string[]> = { fleet: [RISK_DESK_ID] };
  for (const a of demoRoster(agents)) if (a.lead) writers[`team:${a.team}`] = [a.id];
  return { writers, teams: {} };
}
