/** Which scope policy (who may write team and fleet memories) the services of `farmbrain start` get. */
import type { ScopePolicy } from '@farmbrain/contracts';
import type { UserScopePolicy } from '../config.js';

export interface ResolvedScopePolicy {
  policy: ScopePolicy | undefined;
  /** Added to the services' environment. */
  env: Record<string, string>;
  /** One line for the output. */
  label: string;
}

/** `fleet ← risk-desk; team:momentum ← momo-1` */
export function describePolicy(p: ScopePolicy): string {
  const w = Object.entries(p.writers ?? {}).map(([scope, ids]) => `${scope} ← ${ids.length ? ids.join(', ') : 'nobody'}`);
  const t = Object.entries(p.teams ?? {}).map(([team, ids]) => `team ${team} = ${ids.join(', ')}`);
  return w.length || t.length ? [...w, ...t].join('; ') : 'no writers: team and fleet memories are read-only';
}

/**
 * The user's policy (FB_SCOPE_POLICY or FB_SCOPE_POLICY_FILE set, even empty),
 * passed through unchanged (a relative file made absolute); else the demo's,
 * when the demo runs; else none.
 */
export function resolveScopePolicy(user: UserScopePolicy | undefined, demoPolicy: ScopePolicy | undefined): ResolvedScopePolicy {
  if (user) {
    return { policy: user.policy, env: user.file ? { FB_SCOPE_POLICY_FILE: user.file } : {}, label: `yours (${user.source}): ${describePolicy(user.policy)}` };
  }
  if (!demoPolicy) return { policy: undefined, env: {}, label: 'none (set FB_SCOPE_POLICY to let agents write team and fleet memories)' };
  return { policy: demoPolicy, env: { FB_SCOPE_POLICY: JSON.stringify(demoPolicy) }, label: `demo: ${describePolicy(demoPolicy)}` };
}
