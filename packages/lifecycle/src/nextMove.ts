import type { RecordKind, Tier } from '@farmbrain/contracts';
import { DAY_MS, utcDay } from './planner.js';
import type { AgePolicy, LifecyclePolicy } from './policy.js';

/** A record as `explain` sees it. */
export interface RecordPlace {
  kind: RecordKind;
  tier: Tier;
  /** Epoch ms; null when unknown (a deleted record). */
  occurredAt: number | null;
  legalHold: boolean;
}

export interface NextMoveAnswer {
  toTier: Tier;
  policy: string;
  /** When it becomes due (epoch ms), or null when it does not depend on time alone. */
  at: number | null;
  reason: string;
}

const STEPS: { tier: Tier; key: keyof AgePolicy }[] = [
  { tier: 'cold', key: 'coldAfterDays' },
  { tier: 'archive', key: 'archiveAfterDays' },
  { tier: 'deleted', key: 'deleteAfterDays' },
];
const RANK: Record<Tier, number> = { hot: 0, warm: 1, cold: 2, archive: 3, deleted: 4 };

/**
 * Where the policy takes a record next and when (pure; the same day
 * arithmetic the planner uses: a day moves once all of it is older than the
 * age). Null when no policy moves it further.
 */
export function nextMove(policy: LifecyclePolicy, r: RecordPlace): NextMoveAnswer | null {
  if (r.tier === 'deleted') return null;
  if (r.kind === 'memory') {
    return r.tier === 'hot'
      ? { toTier: 'warm', policy: 'memory.hotIdleMinutes', at: null, reason: `back to warm once not recalled for ${policy.memory.hotIdleMinutes} minutes` }
      : policy.memory.promoteAccesses > 0
        ? { toTier: 'hot', policy: 'memory.promoteAccesses', at: null, reason: `to hot once recalled ${policy.memory.promoteAccesses} times within ${policy.memory.promoteWindowMinutes} minutes (importance counts ×${policy.memory.importanceWeight})` }
        : null;
  }
  if (r.occurredAt === null) return null;
  const day = utcDay(r.occurredAt);
  const due = (days: number) => day + (days + 1) * DAY_MS;
  if (r.kind === 'checkpoint') {
    const c = policy.checkpoint;
    const steps = [
      ...(c.archiveAfterDays !== null ? [{ tier: 'archive' as const, days: c.archiveAfterDays, policy: 'checkpoint.archiveAfterDays' }] : []),
      ...(c.deleteAfterDays !== null ? [{ tier: 'deleted' as const, days: c.deleteAfterDays, policy: 'checkpoint.deleteAfterDays' }] : []),
    ].filter((s) => RANK[s.tier] > RANK[r.tier]);
    const s = steps[0];
    if (!s) return null;
    const held = s.tier === 'deleted' && r.legalHold ? ' (not while under legal hold)' : '';
    return { toTier: s.tier, policy: s.policy, at: due(s.days), reason: `after ${s.days} days, unless among the newest ${c.keepLast} checkpoints of the agent${c.keepDaily ? ' or the newest of its day' : ''}${held}` };
  }
  const p = policy[r.kind];
  for (const s of STEPS) {
    const days = p[s.key];
    if (days === null || RANK[s.tier] <= RANK[r.tier]) continue;
    if (s.tier === 'deleted' && r.legalHold) return null;
    return { toTier: s.tier, policy: `${r.kind}.${s.key}`, at: due(days), reason: `its day is older than ${days} days (${r.kind}.${s.key} = ${days})` };
  }
  return null;
}
