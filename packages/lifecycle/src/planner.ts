import { derivedEventId, type RecordKind, type RecordsMoved, type Tier } from '@farmbrain/contracts';
import type { CheckpointEntry, DayCell, Inventory, StoredTier } from './inventory.js';
import { demotionVerdict, promotionVerdict } from './memoryRules.js';
import type { AgePolicy, LifecyclePolicy } from './policy.js';

export const DAY_MS = 86_400_000;

/** Epoch ms of the UTC midnight of the day `ms` falls in. */
export const utcDay = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/** Whether every record of the UTC day starting at `dayMs` is older than `days` days at `now` (the day's last ms included). */
export const dayOlderThan = (dayMs: number, days: number, now: number): boolean => dayMs + (days + 1) * DAY_MS <= now;

const RANK: Record<Tier, number> = { hot: 0, warm: 1, cold: 2, archive: 3, deleted: 4 };

/** Whether `to` is colder than `from`. */
export const colder = (from: Tier, to: Tier): boolean => RANK[to] > RANK[from];

/** The most record ids one records_moved event names (the contract allows 4096; smaller keeps events small). */
export const MAX_IDS_PER_MOVE = 1000;

/** One move to publish: the records_moved payload, its agent and its deterministic event id, with what it moves. */
export interface PlannedMove {
  /** derivedEventId of what the planner saw: two schedulers, or a retry, publish the same id, and the log keeps one. */
  eventId: string;
  agentId: string;
  /** The planner's `now`: when the move was decided. */
  occurredAt: number;
  data: RecordsMoved;
  /** How many records it moves, as the inventory saw them. */
  records: number;
  /** Their bytes in fromTier, and the estimate in toTier (0 for deleted). */
  bytesBefore: number;
  bytesAfter: number;
}

/** Records retention would have deleted but a legal hold keeps. */
export interface HeldBack {
  agentId: string;
  kind: RecordKind;
  /** The UTC day (0 for checkpoints named by id). */
  dayMs: number;
  recordIds: string[];
  records: number;
  policy: string;
  reason: string;
}

export interface TierBytes {
  before: number;
  after: number;
  /** before - after (negative: the tier grows, e.g. cold receiving warm rows). */
  saved: number;
}

/** What a plan does, for the scheduler's log and the optimize dry run. */
export interface Plan {
  now: number;
  moves: PlannedMove[];
  heldBack: HeldBack[];
  /** Estimated bytes per tier before and after the plan (warm and cold in Postgres, archive in the object store). */
  bytes: Record<StoredTier, TierBytes>;
  /** Moves and records per policy (e.g. `decision.coldAfterDays`). */
  byPolicy: Record<string, { moves: number; records: number }>;
}

export interface PlanOptions {
  /** Most record ids one move names. */
  maxIdsPerMove?: number;
  /**
   * Whether an archive store is configured (tiering refuses moves to the archive without one). Without it,
   * nothing is planned into the archive: records stop at cold (checkpoints stay warm); deletion still applies.
   */
  archive?: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoDay = (ms: number): string => iso(ms).slice(0, 10);
const PLURAL: Record<RecordKind, string> = { decision: 'decisions', trade: 'trades', checkpoint: 'checkpoints', memory: 'memories', recall: 'recalls' };
const byKey = <T>(key: (t: T) => string) => (a: T, b: T): number => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/**
 * Decides which records move to which tier, as of `now`. Pure: the same
 * inventory, policy and now give the same moves with the same ids, whatever the
 * order of the inventory's entries.
 *
 * - Decisions, trades, recalls: each UTC day goes to the coldest tier whose age
 *   it passed (cold, archive, deleted), straight from where it is; never hotter.
 * - Checkpoints: the newest `keepLast` of an agent stay; the newest of each UTC
 *   day stays warm (keepDaily) until archiveAfterDays; the rest go to the
 *   archive, by id. Past deleteAfterDays, all but the newest `keepLast` are deleted.
 * - Deletion skips an agent under legal hold, and any day (or checkpoint)
 *   holding a held record; what it skipped is listed in `heldBack`.
 * - Memories: warm → hot by the promotion rule, hot → warm after hotIdleMinutes.
 *
 * The moves are independent: they apply in any order with the same result.
 */
export function planMoves(inv: Inventory, policy: LifecyclePolicy, now: number, { maxIdsPerMove = MAX_IDS_PER_MOVE, archive = true }: PlanOptions = {}): Plan {
  const asOf = `as of ${iso(now)}`;
  const heldAgents = new Set(inv.holds.filter((h) => h.recordId === '').map((h) => h.agentId));
  const heldRecords = new Set(inv.holds.filter((h) => h.recordId !== '').map((h) => `${h.agentId}/${h.recordId.toLowerCase()}`));
  const moves: PlannedMove[] = [];
  const heldBack: HeldBack[] = [];
  const ratio = Number.isFinite(inv.compressionRatio) && inv.compressionRatio > 0 ? inv.compressionRatio : 1;
  const estimate = (from: StoredTier, to: Tier, bytes: number): number => (to === 'deleted' ? 0 : from === 'warm' ? Math.round(bytes * ratio) : bytes);
  const move = (agentId: string, data: RecordsMoved, ms: number, seed: string, records: number, bytes: number, from: StoredTier): void => {
    moves.push({ eventId: derivedEventId(ms, `records_moved/v1|${agentId}|${seed}`), agentId, occurredAt: now, data, records, bytesBefore: bytes, bytesAfter: estimate(from, data.toTier, bytes) });
  };

  // ---- by day: decisions, trades, recalls ----
  // Every tier of a day goes to the same target, so no move of a plan feeds another: a day holding one held record is
  // not deleted in any tier (a per-tier choice could archive the held records while deleting the day's archive).
  const STEPS = ([['cold', 'coldAfterDays'], ['archive', 'archiveAfterDays'], ['deleted', 'deleteAfterDays']] as const).filter(([t]) => archive || t !== 'archive');
  const days = new Map<string, DayCell[]>();
  for (const c of [...inv.days].sort(byKey(cellKey))) {
    if (c.records <= 0) continue;
    const key = `${c.agentId}\u0000${c.kind}\u0000${c.dayMs}`;
    days.set(key, [...(days.get(key) ?? []), c]);
  }
  for (const cells of days.values()) {
    const { agentId, kind, dayMs } = cells[0]!;
    const p: AgePolicy = policy[kind];
    const heldCount = cells.reduce((n, c) => n + c.heldRecords, 0);
    const held = heldAgents.has(agentId) ? 'the agent is under legal hold' : heldCount > 0 ? `${heldCount} of them under legal hold` : '';
    let target: { tier: Tier; key: string; days: number } | undefined;
    for (const [tier, key] of STEPS) {
      const age = p[key];
      if (age === null || !dayOlderThan(dayMs, age, now)) continue;
      if (tier === 'deleted' && held) {
        heldBack.push({ agentId, kind, dayMs, recordIds: [], records: cells.reduce((n, c) => n + c.records, 0), policy: `${kind}.${key}`, reason: `${PLURAL[kind]} of ${isoDay(dayMs)} are older than ${age} days (${kind}.${key} = ${age}) but not deleted: ${held} ${asOf}` });
        continue;
      }
      target = { tier, key, days: age };
    }
    if (!target) continue;
    const policyName = `${kind}.${target.key}`;
    const reason = `${PLURAL[kind]} of ${isoDay(dayMs)} are older than ${target.days} days (${policyName} = ${target.days})${target.tier === 'deleted' ? ', no legal hold' : ''} ${asOf}`;
    for (const c of cells) {
      if (!colder(c.tier, target.tier)) continue;
      move(agentId, { kind, fromTier: c.tier, toTier: target.tier, dayMs, recordIds: [], policy: policyName, reason }, dayMs,
        `${kind}|day:${dayMs}|${c.tier}>${target.tier}|${policyName}|n:${c.records}|seq:${c.lastSeq}`, c.records, c.bytes, c.tier);
    }
  }

  // ---- by id: checkpoints ----
  const cp = policy.checkpoint;
  const byAgent = new Map<string, CheckpointEntry[]>();
  for (const e of inv.checkpoints) byAgent.set(e.agentId, [...(byAgent.get(e.agentId) ?? []), e]);
  for (const agentId of [...byAgent.keys()].sort()) {
    // Newest first; ties by id, so the order does not depend on the inventory's.
    const all = byAgent.get(agentId)!.sort((a, b) => b.occurredAt - a.occurredAt || (a.eventId < b.eventId ? 1 : a.eventId > b.eventId ? -1 : 0));
    const newestOfDay = new Set<CheckpointEntry>();
    const seenDays = new Set<number>();
    for (const e of all) if (!seenDays.has(utcDay(e.occurredAt)) && seenDays.add(utcDay(e.occurredAt))) newestOfDay.add(e);
    const keepLast = `checkpoint.keepLast = ${cp.keepLast}`;
    const groups = new Map<string, { from: StoredTier; to: Tier; day: number; policy: string; reason: string; entries: CheckpointEntry[] }>();
    all.slice(cp.keepLast).forEach((e) => {
      const day = utcDay(e.occurredAt);
      const held = heldAgents.has(agentId) ? 'the agent is under legal hold' : heldRecords.has(`${agentId}/${e.eventId.toLowerCase()}`) ? 'it is under legal hold' : '';
      let to: Tier | undefined;
      let policyName = '';
      let reason = '';
      if (cp.deleteAfterDays !== null && dayOlderThan(day, cp.deleteAfterDays, now)) {
        const why = `checkpoints of ${isoDay(day)} are older than ${cp.deleteAfterDays} days (checkpoint.deleteAfterDays = ${cp.deleteAfterDays}) and not among the newest ${cp.keepLast} (${keepLast})`;
        if (held) heldBack.push({ agentId, kind: 'checkpoint', dayMs: 0, recordIds: [e.eventId], records: 1, policy: 'checkpoint.deleteAfterDays', reason: `${why}, but not deleted: ${held} ${asOf}` });
        else [to, policyName, reason] = ['deleted', 'checkpoint.deleteAfterDays', `${why}, no legal hold ${asOf}`];
      }
      if (to === undefined && !(cp.keepDaily && newestOfDay.has(e))) {
        [to, policyName, reason] = ['archive', 'checkpoint.keepLast', `not among the newest ${cp.keepLast} checkpoints of the agent${cp.keepDaily ? ` nor the newest of its UTC day ${isoDay(day)}` : ''} (${keepLast}, checkpoint.keepDaily = ${cp.keepDaily}) ${asOf}`];
      } else if (to === undefined && cp.archiveAfterDays !== null && dayOlderThan(day, cp.archiveAfterDays, now)) {
        [to, policyName, reason] = ['archive', 'checkpoint.archiveAfterDays', `the newest checkpoint of ${isoDay(day)}, older than ${cp.archiveAfterDays} days (checkpoint.archiveAfterDays = ${cp.archiveAfterDays}) and not among the newest ${cp.keepLast} (${keepLast}) ${asOf}`];
      }
      if (to === undefined || !colder(e.tier, to) || (to === 'archive' && !archive)) return;
      const key = `${day}|${e.tier}|${to}|${policyName}`;
      const g = groups.get(key) ?? { from: e.tier, to, day, policy: policyName, reason, entries: [] };
      g.entries.push(e);
      groups.set(key, g);
    });
    for (const g of [...groups.values()].sort((a, b) => a.day - b.day || RANK[a.from] - RANK[b.from] || RANK[a.to] - RANK[b.to] || (a.policy < b.policy ? -1 : 1))) {
      const entries = g.entries.sort(byKey((e) => e.eventId));
      for (let i = 0; i < entries.length; i += maxIdsPerMove) {
        const part = entries.slice(i, i + maxIdsPerMove);
        const ids = part.map((e) => e.eventId);
        move(agentId, { kind: 'checkpoint', fromTier: g.from, toTier: g.to, dayMs: 0, recordIds: ids, policy: g.policy, reason: g.reason }, g.day,
          `checkpoint|ids:${ids.join(',')}|${g.from}>${g.to}|${g.policy}`, part.length, part.reduce((s, e) => s + e.bytes, 0), g.from);
      }
    }
  }

  // ---- memories: hot ⇄ warm ----
  for (const m of [...inv.memories].sort(byKey((x) => `${x.agentId}\u0000${x.memoryId}`))) {
    const v = m.tier === 'warm' ? promotionVerdict(policy.memory, m, now) : undefined;
    const d = m.tier === 'hot' ? demotionVerdict(policy.memory, m, now) : undefined;
    const to: Tier | undefined = v?.promote ? 'hot' : d?.demote ? 'warm' : undefined;
    if (!to) continue;
    const policyName = v?.policy ?? d!.policy;
    const at = m.lastAccessedAt ?? utcDay(now);
    moves.push({
      eventId: derivedEventId(at, `records_moved/v1|${m.agentId}|memory|id:${m.memoryId}|${m.tier}>${to}|${policyName}|at:${m.lastAccessedAt ?? 'never'}`),
      agentId: m.agentId,
      occurredAt: now,
      data: { kind: 'memory', fromTier: m.tier, toTier: to, dayMs: 0, recordIds: [m.memoryId], policy: policyName, reason: (v ?? d)!.reason },
      records: 1,
      bytesBefore: 0,
      bytesAfter: 0,
    });
  }

  return { now, moves, heldBack, bytes: tierBytes(inv, moves), byPolicy: countByPolicy(moves) };
}

const cellKey = (c: DayCell): string => `${c.agentId}\u0000${c.kind}\u0000${String(c.dayMs).padStart(16, '0')}\u0000${RANK[c.tier]}`;

function tierBytes(inv: Inventory, moves: readonly PlannedMove[]): Record<StoredTier, TierBytes> {
  const before: Record<StoredTier, number> = { warm: 0, cold: 0, archive: 0 };
  for (const c of inv.days) before[c.tier] += c.bytes;
  for (const e of inv.checkpoints) before[e.tier] += e.bytes;
  const after = { ...before };
  for (const m of moves) {
    if (m.data.fromTier in after) after[m.data.fromTier as StoredTier] -= m.bytesBefore;
    if (m.data.toTier in after) after[m.data.toTier as StoredTier] += m.bytesAfter;
  }
  const row = (t: StoredTier): TierBytes => ({ before: before[t], after: after[t], saved: before[t] - after[t] });
  return { warm: row('warm'), cold: row('cold'), archive: row('archive') };
}

function countByPolicy(moves: readonly PlannedMove[]): Plan['byPolicy'] {
  const out: Plan['byPolicy'] = {};
  for (const m of moves) {
    const c = (out[m.data.policy] ??= { moves: 0, records: 0 });
    c.moves += 1;
    c.records += m.records;
  }
  return out;
}

/**
 * The inventory as it will be once the plan's moves are applied (by the
 * tiering projection): what the optimize dry run shows, and what the planner's
 * idempotence is tested against (planning again on it yields no move).
 */
export function applyPlan(inv: Inventory, plan: Pick<Plan, 'moves'>): Inventory {
  const days = new Map(inv.days.map((c) => [cellKey(c), { ...c }]));
  const checkpoints = new Map(inv.checkpoints.map((e) => [`${e.agentId}/${e.eventId}`, { ...e }]));
  const memories = new Map(inv.memories.map((m) => [`${m.agentId}/${m.memoryId}`, { ...m }]));
  for (const m of plan.moves) {
    const { kind, fromTier, toTier, dayMs, recordIds } = m.data;
    if (kind === 'memory') {
      for (const id of recordIds) {
        const x = memories.get(`${m.agentId}/${id}`);
        if (x && x.tier === fromTier && (toTier === 'hot' || toTier === 'warm')) x.tier = toTier;
      }
    } else if (kind === 'checkpoint') {
      for (const id of recordIds) {
        const key = `${m.agentId}/${id}`;
        const x = checkpoints.get(key);
        if (!x || x.tier !== fromTier) continue;
        if (toTier === 'deleted') checkpoints.delete(key);
        else {
          x.bytes = estimateOne(x.tier, x.bytes, inv.compressionRatio);
          x.tier = toTier as StoredTier;
        }
      }
    } else {
      const from = days.get(cellKey({ agentId: m.agentId, kind, dayMs, tier: fromTier } as DayCell));
      if (!from) continue;
      days.delete(cellKey(from));
      if (toTier === 'deleted') continue;
      const to = { ...from, tier: toTier as StoredTier, bytes: m.bytesAfter };
      const there = days.get(cellKey(to));
      if (there) {
        there.records += to.records;
        there.lastSeq = Math.max(there.lastSeq, to.lastSeq);
        there.bytes += to.bytes;
        there.heldRecords += to.heldRecords;
      } else days.set(cellKey(to), to);
    }
  }
  return { ...inv, days: [...days.values()], checkpoints: [...checkpoints.values()], memories: [...memories.values()] };
}

const estimateOne = (from: StoredTier, bytes: number, ratio: number): number => (from === 'warm' ? Math.round(bytes * (ratio > 0 ? ratio : 1)) : bytes);
