import type { Scope } from './events.js';
import { FarmbrainError } from './errors.js';
import { TEAM_NAME_PATTERN as TEAM_NAME } from './fieldRules.js';
import { AGENT_ID_PATTERN } from './subjects.js';

/**
 * Who may write shared memories, and who belongs to which team.
 *
 * ```json
 * {
 *   "writers": { "fleet": ["risk-desk"], "team:alpha": ["a1", "a2"], "team:*": ["lead"] },
 *   "teams":   { "alpha": ["a1", "a2", "a3"] }
 * }
 * ```
 * - `writers` keys are `fleet`, `team:<name>` or `team:*` (every team); values
 *   are agent ids or `*` (any agent). A shared scope with no entry is read-only:
 *   governance is opt-in per scope, never implied.
 * - `teams` pins a team's membership for reads. A team not listed takes its
 *   members from agent registrations (`agent_registered.team`).
 * - An agent always reads and writes its own `agent` scope.
 */
export interface ScopePolicy {
  writers: Record<string, readonly string[]>;
  teams: Record<string, readonly string[]>;
}

export const EMPTY_SCOPE_POLICY: ScopePolicy = Object.freeze({ writers: {}, teams: {} });

/** Parses and checks a policy document; throws INVALID_SCOPE_POLICY naming the bad part. */
export function parseScopePolicy(text: string, source = 'FB_SCOPE_POLICY'): ScopePolicy {
  const fail = (why: string): never => {
    throw new FarmbrainError('INVALID_SCOPE_POLICY', `${source}: ${why}. Expected {"writers": {"fleet": ["agent-id"], "team:<name>": ["agent-id" | "*"]}, "teams": {"<name>": ["agent-id"]}}`);
  };
  if (text.trim() === '') return EMPTY_SCOPE_POLICY;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail('must be a JSON object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'writers' && k !== 'teams') fail(`unknown key '${k}'`);
  const agents = (v: unknown, where: string, wildcard: boolean): string[] => {
    if (!Array.isArray(v)) return fail(`${where} must be an array of agent ids`);
    for (const a of v) {
      if (typeof a !== 'string' || !(AGENT_ID_PATTERN.test(a) || (wildcard && a === '*'))) fail(`${where} holds '${String(a)}', which is not an agent id${wildcard ? " or '*'" : ''}`);
    }
    return v as string[];
  };
  const map = (v: unknown, where: string): Record<string, unknown> => {
    if (v === undefined) return {};
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail(`${where} must be an object`);
    return v as Record<string, unknown>;
  };
  const writers: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(map(o.writers, 'writers'))) {
    if (k !== 'fleet' && !(k.startsWith('team:') && (k === 'team:*' || TEAM_NAME.test(k.slice(5))))) {
      fail(`writers key '${k}' must be 'fleet', 'team:<name>' or 'team:*'`);
    }
    writers[k] = agents(v, `writers['${k}']`, true);
  }
  const teams: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(map(o.teams, 'teams'))) {
    if (!TEAM_NAME.test(k)) fail(`team name '${k}' must match ${TEAM_NAME}`);
    teams[k] = agents(v, `teams['${k}']`, false);
  }
  return { writers, teams };
}

/** The key a memory's visibility is grouped by: `agent:<id>`, `team:<name>` or `fleet`. */
export const ownerKey = (scope: Scope, agentId: string, scopeId: string): string =>
  scope === 'agent' ? `agent:${agentId}` : scope === 'team' ? `team:${scopeId}` : 'fleet';

/** Why `agentId` may not write to the scope, or undefined when it may. */
export function writeDenial(policy: ScopePolicy, agentId: string, scope: Scope, scopeId: string): string | undefined {
  if (scope === 'agent') return undefined;
  const key = scope === 'fleet' ? 'fleet' : `team:${scopeId}`;
  const list = policy.writers[key] ?? (scope === 'team' ? policy.writers['team:*'] : undefined);
  if (list === undefined) return `scope '${key}' has no writers configured; add "${key}": ["${agentId}"] to the writers of FB_SCOPE_POLICY to allow this agent`;
  if (list.includes('*') || list.includes(agentId)) return undefined;
  return `agent '${agentId}' is not a writer of scope '${key}' (writers: ${list.join(', ') || 'none'}); add it to FB_SCOPE_POLICY writers['${key}']`;
}

/** Teams the agent reads: pinned memberships, plus its registered team unless that team is pinned without it. */
export function teamsOf(policy: ScopePolicy, agentId: string, registeredTeam: string): string[] {
  const out = new Set<string>();
  for (const [team, members] of Object.entries(policy.teams)) if (members.includes(agentId)) out.add(team);
  if (registeredTeam !== '' && policy.teams[registeredTeam] === undefined) out.add(registeredTeam);
  return [...out].sort();
}

/** The owner keys an agent may read, in a stable order. */
export const readableOwnerKeys = (agentId: string, teams: readonly string[]): string[] => [`agent:${agentId}`, ...teams.map((t) => `team:${t}`), 'fleet'];
