import type { PoolClient } from '@farmbrain/platform';
import {
  agentSummary,
  decisionOut,
  memoryCore,
  positionOut,
  type AgentRow,
  type AgentSummary,
  type DecisionItem,
  type MemoryCore,
  type PositionItem,
} from './rows.js';

/** Anything that runs a query: a pool or a client inside a transaction. */
export type Queryable = Pick<PoolClient, 'query'>;

/**
 * An agent's current state as one value: who it is, its newest decisions, its
 * open positions and its newest live memories. Postgres is the record; the hot
 * tier (Redis) keeps a copy of exactly this, so both tiers answer alike.
 */
export interface AgentView {
  summary: AgentSummary;
  /** Newest first: occurredAt desc, then decisionId desc. */
  decisions: DecisionItem[];
  /** Open positions, by symbol. */
  positions: PositionItem[];
  /** The agent's own live memories, newest first: createdAt desc, then memoryId desc (byte order). */
  memories: MemoryCore[];
}

export interface ViewLimits {
  decisions: number;
  memories: number;
}

// Ties are broken by id in byte order ("C"), the order Redis sorted sets use for equal scores.
const DECISIONS_NEWEST = `ORDER BY occurred_at DESC, event_id DESC`;
const MEMORIES_NEWEST = `ORDER BY created_at DESC, memory_id COLLATE "C" DESC`;

/** Open positions are shown by symbol, in code-unit order (the same in every tier). */
export const bySymbol = (a: { symbol: string }, b: { symbol: string }): number => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);

/** The summaries (agents rows) of these agents; unknown ids are absent. */
export async function readSummaries(db: Queryable, agentIds: readonly string[]): Promise<Map<string, AgentSummary>> {
  if (agentIds.length === 0) return new Map();
  const r = await db.query<AgentRow>('SELECT * FROM agents WHERE agent_id = ANY($1::text[])', [agentIds]);
  return new Map(r.rows.map((row) => [row.agent_id, agentSummary(row)]));
}

/**
 * Of these decisions (ids), each agent's newest `n` as Postgres has them (by
 * the stored time, not by what a copy of the event claims): only those can
 * enter the agent's newest `n`.
 */
export async function readNewestDecisionsAmong(db: Queryable, ids: readonly string[], n: number): Promise<DecisionItem[]> {
  if (ids.length === 0 || n <= 0) return [];
  const r = await db.query(
    `SELECT d.* FROM (SELECT DISTINCT agent_id FROM decisions WHERE event_id = ANY($1::uuid[])) a
       CROSS JOIN LATERAL (SELECT * FROM decisions WHERE agent_id = a.agent_id AND event_id = ANY($1::uuid[]) ${DECISIONS_NEWEST} LIMIT $2) d`,
    [ids, n],
  );
  return r.rows.map(decisionOut);
}

/** Each agent's open positions, by symbol (agents without any map to []). */
export async function readOpenPositions(db: Queryable, agentIds: readonly string[]): Promise<Map<string, PositionItem[]>> {
  const out = new Map<string, PositionItem[]>(agentIds.map((a) => [a, []]));
  if (agentIds.length === 0) return out;
  const r = await db.query(`SELECT * FROM positions WHERE agent_id = ANY($1::text[]) AND status = 'open'`, [agentIds]);
  for (const row of r.rows) out.get(row.agent_id as string)?.push(positionOut(row));
  for (const list of out.values()) list.sort(bySymbol);
  return out;
}

/** Memories by id: the owner, and the memory (null when forgotten). */
export async function readMemoriesById(db: Queryable, ids: readonly string[]): Promise<Map<string, { agentId: string; memory: MemoryCore | null }>> {
  if (ids.length === 0) return new Map();
  const r = await db.query('SELECT * FROM memories WHERE memory_id = ANY($1::text[])', [ids]);
  return new Map(r.rows.map((row) => [row.memory_id as string, { agentId: row.agent_id as string, memory: row.forgotten_at ? null : memoryCore(row) }]));
}

/** Each agent's newest live memories of its own. */
export async function readRecentMemories(db: Queryable, agentIds: readonly string[], n: number): Promise<Map<string, MemoryCore[]>> {
  const out = new Map<string, MemoryCore[]>(agentIds.map((a) => [a, []]));
  if (agentIds.length === 0 || n <= 0) return out;
  const r = await db.query(
    `SELECT m.* FROM unnest($1::text[]) AS a(id)
       CROSS JOIN LATERAL (SELECT * FROM memories WHERE agent_id = a.id AND forgotten_at IS NULL ${MEMORIES_NEWEST} LIMIT $2) m`,
    [agentIds, n],
  );
  for (const row of r.rows) out.get(row.agent_id as string)?.push(memoryCore(row));
  return out;
}

/** Each agent's newest decisions. */
export async function readRecentDecisions(db: Queryable, agentIds: readonly string[], n: number): Promise<Map<string, DecisionItem[]>> {
  const out = new Map<string, DecisionItem[]>(agentIds.map((a) => [a, []]));
  if (agentIds.length === 0 || n <= 0) return out;
  const r = await db.query(
    `SELECT d.* FROM unnest($1::text[]) AS a(id)
       CROSS JOIN LATERAL (SELECT * FROM decisions WHERE agent_id = a.id ${DECISIONS_NEWEST} LIMIT $2) d`,
    [agentIds, n],
  );
  for (const row of r.rows) out.get(row.agent_id as string)?.push(decisionOut(row));
  return out;
}

/** The whole view of each known agent, from Postgres (unknown agents are absent). */
export async function readAgentViews(db: Queryable, agentIds: readonly string[], limits: ViewLimits): Promise<Map<string, AgentView>> {
  const summaries = await readSummaries(db, agentIds);
  const known = [...summaries.keys()];
  const [decisions, positions, memories] = await Promise.all([
    readRecentDecisions(db, known, limits.decisions),
    readOpenPositions(db, known),
    readRecentMemories(db, known, limits.memories),
  ]);
  return new Map(known.map((a) => [a, {
    summary: summaries.get(a)!,
    decisions: decisions.get(a) ?? [],
    positions: positions.get(a) ?? [],
    memories: memories.get(a) ?? [],
  }]));
}
