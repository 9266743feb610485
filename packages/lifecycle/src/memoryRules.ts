import type { DecayPolicy, MemoryPolicy } from './policy.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
const round = (x: number, digits = 6): number => Math.round(x * 10 ** digits) / 10 ** digits;
const iso = (ms: number): string => new Date(ms).toISOString();

/** The promotion rule's verdict for one memory, with the values that decided it. */
export interface PromotionVerdict {
  promote: boolean;
  /** accesses + importance × importanceWeight */
  score: number;
  policy: 'memory.promoteAccesses';
  reason: string;
}

/**
 * Whether a warm memory goes hot: recalled at least once in the window, and its
 * recalls plus its importance bonus (importance × importanceWeight) reach
 * promoteAccesses. promoteAccesses 0 turns promotion off.
 */
export function promotionVerdict(p: MemoryPolicy, m: { accessesInWindow: number; importance: number }, now: number): PromotionVerdict {
  const bonus = round(m.importance * p.importanceWeight, 3);
  const score = round(m.accessesInWindow + bonus, 3);
  const promote = p.promoteAccesses > 0 && m.accessesInWindow >= 1 && score >= p.promoteAccesses;
  const values = `(memory.promoteAccesses = ${p.promoteAccesses}, memory.promoteWindowMinutes = ${p.promoteWindowMinutes}, memory.importanceWeight = ${p.importanceWeight})`;
  const reason = p.promoteAccesses === 0
    ? 'promotion is off (memory.promoteAccesses = 0)'
    : `recalled ${m.accessesInWindow} time(s) in the ${p.promoteWindowMinutes} minutes before ${iso(now)}, plus importance ${m.importance} × ${p.importanceWeight} = ${score}, ${promote ? 'reaches' : m.accessesInWindow < 1 ? 'but never recalled, below' : 'below'} ${p.promoteAccesses} ${values}`;
  return { promote, score, policy: 'memory.promoteAccesses', reason };
}

/** Whether a hot memory goes back to warm: not recalled for hotIdleMinutes (a memory never recalled counts as idle). */
export function demotionVerdict(p: MemoryPolicy, m: { lastAccessedAt: number | null }, now: number): { demote: boolean; idleMinutes: number | null; policy: 'memory.hotIdleMinutes'; reason: string } {
  const idleMinutes = m.lastAccessedAt === null ? null : Math.floor(Math.max(0, now - m.lastAccessedAt) / MINUTE);
  const demote = idleMinutes === null || idleMinutes >= p.hotIdleMinutes;
  const idle = m.lastAccessedAt === null ? 'never recalled' : `not recalled since ${iso(m.lastAccessedAt)}: idle ${idleMinutes} minutes, ${demote ? 'at least' : 'less than'} ${p.hotIdleMinutes}`;
  return { demote, idleMinutes, policy: 'memory.hotIdleMinutes', reason: `${idle} (memory.hotIdleMinutes = ${p.hotIdleMinutes}) as of ${iso(now)}` };
}

/** What decay did to a recall score: shown in the hit's score parts, so a ranking can be explained. */
export interface DecayPart {
  halfLifeDays: number;
  minFactor: number;
  /** Days since the memory was last recalled (else since it was created), at the time of the recall. */
  ageDays: number;
  /** What the age is counted from. */
  since: 'lastRecalled' | 'created';
  /** max(minFactor, 0.5 ^ (ageDays / halfLifeDays)): the score is multiplied by it. */
  factor: number;
}

/**
 * The decay part of a recall hit, or null when decay is off (the default: it is
 * opt-in). Age counts from the last recall, so a memory in use keeps its score,
 * and from its creation when it was never recalled.
 */
export function decayPart(p: DecayPolicy, m: { createdAt: number; lastAccessedAt?: number | null }, now: number): DecayPart | null {
  if (!p.enabled) return null;
  const recalled = m.lastAccessedAt !== undefined && m.lastAccessedAt !== null && m.lastAccessedAt > m.createdAt;
  const from = recalled ? m.lastAccessedAt! : m.createdAt;
  const ageDays = Math.max(0, now - from) / DAY;
  const factor = Math.max(p.minFactor, 0.5 ** (ageDays / p.halfLifeDays));
  return { halfLifeDays: p.halfLifeDays, minFactor: p.minFactor, ageDays: round(ageDays, 4), since: recalled ? 'lastRecalled' : 'created', factor: round(factor) };
}

/** A score after decay (unchanged when decay is off). */
export const decayed = (score: number, part: DecayPart | null): number => (part ? round(score * part.factor) : score);
