import type { Pool } from '@farmbrain/platform';
import { agentSummary, decisionOut, evolvePositions, positionOut, type AgentRow, type AgentSummary, type PositionEvent, type PositionRow } from '@farmbrain/store';
import { STATE_SHOWS } from './agentState.js';
import type { ReadStore } from './readStore.js';

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString());

/** The checkpoint that was the agent's current one at a moment: its newest save, or a later restore's. */
export interface CurrentCheckpoint {
  checkpointId: string;
  label: string;
  /** When it was saved. */
  occurredAt: string;
  /** Set when a restore made it current (the agent_restored event): when, by whom, why. */
  restored: { at: string; operator: string; reason: string; eventId: string } | null;
}

export interface AgentStateAsOf {
  asOf: string;
  state: AgentSummary & {
    openPositions: ReturnType<typeof positionOut>[];
    recentDecisions: ReturnType<typeof decisionOut>[];
    recentMemories: Record<string, unknown>[];
    source: 'history';
  };
  /** The nearest checkpoint at or before `asOf` (the agent's current one then), and how much happened after it until `asOf`. */
  checkpoint: CurrentCheckpoint | null;
  since: { decisions: number; trades: number; memoryChanges: number };
}

/**
 * An agent's state as it was at a moment, rebuilt from what the stores keep
 * of its past (every tier): who it was (agent_history), its newest decisions
 * up to then, its positions open then (each folded again from its trades up to
 * then, with the same fold tiering applies), and its memories at the version
 * they had then (memory_versions). It answers in the shape of GET
 * /v1/agents/:id, plus the checkpoint that was current then and what happened
 * after it: load that checkpoint, replay what followed, and an agent is back
 * where it stood.
 */
export async function agentStateAsOf(pool: Pool, reads: ReadStore, agentId: string, at: Date): Promise<AgentStateAsOf | undefined> {
  const t = at.toISOString();
  const until = new Date(at.getTime() + 1).toISOString(); // listings' `to` is exclusive
  const now = await pool.query<AgentRow>('SELECT * FROM agents WHERE agent_id = $1', [agentId]);
  const row = now.rows[0];
  if (!row || row.first_seen_at.getTime() > at.getTime()) return undefined;
  const hist = await pool.query(`SELECT * FROM agent_history WHERE agent_id = $1 AND occurred_at <= $2 ORDER BY occurred_at DESC, stream_seq DESC LIMIT 1`, [agentId, t]);
  const h = hist.rows[0] as Record<string, unknown> | undefined;
  const last = await lastEventAt(pool, reads, agentId, t, until);
  const summary = agentSummary({
    ...row,
    ...(h ? { name: h.name as string, team: h.team as string, strategy: h.strategy as string, config: h.config as Record<string, unknown>, status: h.status as string, registered_at: h.registered_at as Date | null }
      : { name: '', team: '', strategy: '', config: {}, status: 'active', registered_at: null }),
    last_event_at: last ?? row.first_seen_at,
  });
  const decisions = await reads.decisions(agentId, { to: until, limit: STATE_SHOWS.decisions });
  const openPositions = await positionsOpenAt(pool, reads, agentId, at, until);
  const memories = await pool.query(
    `SELECT DISTINCT ON (v.memory_id) v.snapshot, v.op, m.source_event_ids
       FROM memory_versions v JOIN memories m USING (memory_id)
      WHERE v.agent_id = $1 AND v.occurred_at <= $2
      ORDER BY v.memory_id, v.version DESC`, [agentId, t],
  );
  const recentMemories = memories.rows
    .filter((r) => r.op !== 'forgotten' && !(r.snapshot as Record<string, unknown>).forgottenAt)
    .map((r) => memoryAt(r.snapshot as Record<string, unknown>, r.source_event_ids as string[]))
    .sort((a, b) => (a.createdAt! < b.createdAt! ? 1 : a.createdAt! > b.createdAt! ? -1 : a.memoryId < b.memoryId ? 1 : a.memoryId > b.memoryId ? -1 : 0))
    .slice(0, STATE_SHOWS.memories);
  const checkpoint = await checkpointAt(pool, reads, agentId, t, until);
  const from = checkpoint?.restored?.at ?? checkpoint?.occurredAt ?? null;
  const count = async (sql: string) => Number((await pool.query<{ n: number }>(sql, [agentId, from ?? '-infinity', t])).rows[0]!.n);
  return {
    asOf: t,
    state: { ...summary, openPositions, recentDecisions: decisions.items.map((d) => { const { tier: _tier, ...rest } = d as typeof d & { tier?: string }; return rest; }), recentMemories, source: 'history' },
    checkpoint,
    since: {
      decisions: await count('SELECT count(*)::int AS n FROM decisions WHERE agent_id = $1 AND occurred_at > $2 AND occurred_at <= $3'),
      trades: await count('SELECT count(*)::int AS n FROM trades WHERE agent_id = $1 AND occurred_at > $2 AND occurred_at <= $3'),
      memoryChanges: await count('SELECT count(*)::int AS n FROM memory_versions WHERE agent_id = $1 AND occurred_at > $2 AND occurred_at <= $3'),
    },
  };
}

/** A memory_versions snapshot in the shape of the state's memories (store memoryCore). */
const memoryAt = (s: Record<string, unknown>, sourceEventIds: string[]) => ({
  memoryId: s.memoryId as string, agentId: s.agentId as string, kind: s.kind as string, text: s.text as string, tags: s.tags as string[],
  importance: s.importance as number, scope: s.scope as string, scopeId: s.scopeId as string, version: s.version as number,
  embeddingDims: s.embeddingDims as number, embeddingModel: s.embeddingModel as string, expiresAt: iso(s.expiresAt),
  createdAt: iso(s.createdAt), updatedAt: iso(s.updatedAt), forgottenAt: iso(s.forgottenAt), sourceEventIds,
});

/** The newest time of any of the agent's events at or before `t` (what lastEventAt said then). */
async function lastEventAt(pool: Pool, reads: ReadStore, agentId: string, t: string, until: string): Promise<Date | null> {
  const r = await pool.query<{ m: Date | null }>(
    `SELECT GREATEST(
       (SELECT max(occurred_at) FROM agent_history WHERE agent_id = $1 AND occurred_at <= $2),
       (SELECT max(occurred_at) FROM position_closes WHERE agent_id = $1 AND occurred_at <= $2),
       (SELECT max(occurred_at) FROM memory_versions WHERE agent_id = $1 AND occurred_at <= $2),
       (SELECT max(occurred_at) FROM recalls WHERE agent_id = $1 AND occurred_at <= $2),
       (SELECT max(restored_at) FROM agent_restores WHERE agent_id = $1 AND restored_at <= $2),
       (SELECT max(last_at) FROM cold_blocks WHERE agent_id = $1 AND kind = 'recall' AND last_at <= $2)) AS m`, [agentId, t],
  );
  // Decisions, trades and checkpoints in any tier: the newest of each up to then.
  const newest = await Promise.all([
    reads.decisions(agentId, { to: until, limit: 1 }), reads.trades(agentId, { to: until, limit: 1 }), reads.checkpoints(agentId, { to: until, limit: 1 }),
  ]);
  const times = [r.rows[0]?.m ?? null, ...newest.map((p) => (p.items[0]?.occurredAt ? new Date(p.items[0].occurredAt) : null))].filter((x): x is Date => x !== null);
  return times.length ? new Date(Math.max(...times.map((d) => d.getTime()))) : null;
}

/** Positions open at `at`, each folded again from its own trades up to then (any tier). */
async function positionsOpenAt(pool: Pool, reads: ReadStore, agentId: string, at: Date, until: string) {
  const open = await pool.query(`SELECT * FROM positions WHERE agent_id = $1 AND opened_at <= $2 AND (closed_at IS NULL OR closed_at > $2) ORDER BY symbol`, [agentId, at.toISOString()]);
  const out: ReturnType<typeof positionOut>[] = [];
  for (const p of open.rows as Record<string, unknown>[]) {
    const trades = await reads.trades(agentId, { symbol: p.symbol as string, from: (p.opened_at as Date).toISOString(), to: until, limit: 1000 });
    const opening = trades.items.find((x) => x.tradeId === p.position_id);
    const events: PositionEvent[] = trades.items
      .filter((x) => opening && x.producerSeq >= opening.producerSeq)
      .sort((a, b) => a.producerSeq - b.producerSeq)
      .map((x) => ({
        eventId: x.tradeId, agentId, producerSeq: x.producerSeq, occurredAt: Date.parse(x.occurredAt!), correlationId: '', causationId: '', schemaVersion: 1,
        type: 'trade_executed', data: { orderId: x.orderId, symbol: x.symbol, side: x.side as 'buy' | 'sell', qty: x.qty, price: x.price, fees: x.fees, decisionId: x.decisionId ?? '' },
      }));
    const folded = evolvePositions([], events).rows.find((r: PositionRow) => r.positionId === p.position_id);
    if (!folded) continue;
    out.push(positionOut({
      position_id: folded.positionId, agent_id: agentId, symbol: folded.symbol, status: 'open', qty: folded.qty, avg_price: folded.avgPrice, fees: folded.fees,
      opened_at: new Date(folded.openedAt), closed_at: null, realized_pnl: null, exit_price: null, decision_ids: folded.decisionIds, trade_count: folded.tradeCount,
    }));
  }
  return out;
}

/** The agent's current checkpoint at `t`: its newest save then, unless a restore after that save made another one current. */
export async function checkpointAt(pool: Pool, reads: ReadStore, agentId: string, t: string, until: string): Promise<CurrentCheckpoint | null> {
  const saved = (await reads.checkpoints(agentId, { to: until, limit: 1 })).items[0];
  const restore = (await pool.query(`SELECT * FROM agent_restores WHERE agent_id = $1 AND restored_at <= $2 ORDER BY restored_at DESC, stream_seq DESC LIMIT 1`, [agentId, t])).rows[0] as Record<string, unknown> | undefined;
  if (restore && (!saved || (restore.restored_at as Date).toISOString() >= saved.occurredAt!)) {
    const c = await reads.checkpoint(agentId, restore.checkpoint_id as string);
    if (c) {
      return {
        checkpointId: c.checkpointId as string, label: c.label as string, occurredAt: c.occurredAt as string,
        restored: { at: (restore.restored_at as Date).toISOString(), operator: restore.operator as string, reason: restore.reason as string, eventId: restore.event_id as string },
      };
    }
  }
  return saved ? { checkpointId: saved.checkpointId, label: saved.label, occurredAt: saved.occurredAt!, restored: null } : null;
}
