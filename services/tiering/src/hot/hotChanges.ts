import type { FarmEvent } from '@farmbrain/contracts';
import {
  readNewestDecisionsAmong,
  readMemoriesById,
  readOpenPositions,
  readRecentMemories,
  readSummaries,
  type HotChange,
  type MemoryCore,
  type Queryable,
  type ViewLimits,
} from '@farmbrain/store';
import { changedMemoryIds } from '../warm/warmStore.js';

/**
 * What a batch changes in the hot copy of each agent's view, read back from
 * Postgres after the batch applied (so the hot tier never holds anything
 * Postgres does not: a dead-lettered event, a duplicate, an out-of-order
 * event all come out as Postgres has them). Every agent with an event in the
 * batch gets its summary; decisions, positions and memories only where the
 * batch touched them. Replays and duplicates are included on purpose: a crash
 * between the commit and Redis leaves Redis behind, and this catches it up.
 */
export async function readHotChanges(db: Queryable, events: readonly FarmEvent[], asOf: number, keep: ViewLimits): Promise<HotChange[]> {
  const agents = [...new Set(events.map((e) => e.agentId))];
  if (agents.length === 0) return [];

  const decisionIds = [...new Set(events.filter((e) => e.type === 'decision_made').map((e) => e.eventId))];
  const positionAgents = [...new Set(events.filter((e) => e.type === 'trade_executed' || e.type === 'position_closed').map((e) => e.agentId))];
  const memoryIds = [...new Set(events.flatMap(changedMemoryIds))];
  const inBatch = new Set(agents);

  // One round trip's worth of latency: the reads run side by side on a pool.
  const [summaries, decisions, positions, memories] = await Promise.all([
    readSummaries(db, agents),
    // Only the newest `keep.decisions` of an agent's batch can enter its newest `keep.decisions`; which ones
    // those are is what Postgres stored (a duplicate may carry another time), so Postgres picks them.
    readNewestDecisionsAmong(db, decisionIds, keep.decisions),
    readOpenPositions(db, positionAgents),
    readMemoriesById(db, memoryIds),
  ]);

  // A forgotten memory leaves a gap the next-newest one fills: re-read that agent's newest memories whole.
  const upserts = new Map<string, MemoryCore[]>();
  const whole = new Set<string>();
  for (const m of memories.values()) {
    // A memory goes to its owner's copy (the owner as Postgres has it). Only the owner's own events change
    // a memory, and they are on this partition: an owner with no event in the batch saw no change.
    if (!inBatch.has(m.agentId) || !summaries.has(m.agentId)) continue;
    if (m.memory === null) whole.add(m.agentId);
    else upserts.set(m.agentId, [...(upserts.get(m.agentId) ?? []), m.memory]);
  }
  const recent = await readRecentMemories(db, [...whole], keep.memories);
  const known = agents.filter((a) => summaries.has(a));

  return known.map((agentId): HotChange => ({
    agentId,
    asOf,
    summary: summaries.get(agentId)!,
    decisions: decisions.filter((d) => d.agentId === agentId),
    ...(positions.has(agentId) ? { positions: positions.get(agentId)! } : {}),
    ...(whole.has(agentId)
      ? { memories: { all: recent.get(agentId) ?? [] } }
      : upserts.has(agentId) ? { memories: { upserts: upserts.get(agentId)! } } : {}),
  }));
}
