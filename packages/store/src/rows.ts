/**
 * Postgres rows as the API shows them. Every reader (the gateway's listings,
 * the agent view from Postgres, the hot view tiering writes to Redis) maps rows
 * with these, so an item looks the same whichever tier served it.
 */

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
type Row = Record<string, unknown>;

export interface AgentRow {
  agent_id: string; name: string; team: string; strategy: string; config: Record<string, unknown>; status: string;
  registered_at: Date | null; first_seen_at: Date; last_event_at: Date;
}

export interface AgentSummary {
  agentId: string; name: string; team: string; strategy: string; status: string; config: Record<string, unknown>;
  registeredAt: string | null; firstSeenAt: string | null; lastEventAt: string | null;
}

export const agentSummary = (r: AgentRow): AgentSummary => ({
  agentId: r.agent_id, name: r.name, team: r.team, strategy: r.strategy, status: r.status, config: r.config,
  registeredAt: iso(r.registered_at), firstSeenAt: iso(r.first_seen_at), lastEventAt: iso(r.last_event_at),
});

export const decisionOut = (r: Row) => ({
  decisionId: r.event_id as string, agentId: r.agent_id as string, occurredAt: iso(r.occurred_at as Date), symbol: r.symbol as string,
  action: r.action as string, size: r.size as number, confidence: r.confidence as number, rationale: r.rationale as string,
  situation: r.situation as number[], memoryIds: r.memory_ids as string[], recallIds: r.recall_ids as string[],
  producerSeq: r.producer_seq as number, correlationId: r.correlation_id as string,
});
export type DecisionItem = ReturnType<typeof decisionOut>;

export const tradeOut = (r: Row) => ({
  tradeId: r.event_id as string, agentId: r.agent_id as string, occurredAt: iso(r.occurred_at as Date), orderId: r.order_id as string,
  symbol: r.symbol as string, side: r.side as string, qty: r.qty as number, price: r.price as number, fees: r.fees as number,
  decisionId: ((r.decision_id as string) || null) as string | null, producerSeq: r.producer_seq as number,
});
export type TradeItem = ReturnType<typeof tradeOut>;

export const positionOut = (r: Row) => ({
  positionId: r.position_id as string, agentId: r.agent_id as string, symbol: r.symbol as string, status: r.status as string,
  qty: r.qty as number, avgPrice: r.avg_price as number, fees: r.fees as number, openedAt: iso(r.opened_at as Date),
  closedAt: iso(r.closed_at as Date | null), realizedPnl: r.realized_pnl as number | null, exitPrice: r.exit_price as number | null,
  decisionIds: r.decision_ids as string[], tradeCount: r.trade_count as number,
  holdingMs: r.closed_at ? (r.closed_at as Date).getTime() - (r.opened_at as Date).getTime() : null,
});
export type PositionItem = ReturnType<typeof positionOut>;

export const checkpointOut = (r: Row) => ({
  checkpointId: r.event_id as string, agentId: r.agent_id as string, occurredAt: iso(r.occurred_at as Date), label: r.label as string,
  sizeBytes: r.size_bytes as number, producerSeq: r.producer_seq as number,
});
export type CheckpointItem = ReturnType<typeof checkpointOut>;

/** Everything a memory listing shows: not the embedding bytes nor the text-search vector. */
export const MEMORY_COLUMNS = `memory_id, agent_id, kind, text, tags, importance, scope, scope_id, version, embedding_dims, embedding_model,
  expires_at, created_at, updated_at, forgotten_at, source_event_ids, access_count, last_accessed_at`;

/**
 * A memory as its owner's own events leave it. Usage counters are left out on
 * purpose: recalls by any agent move them, from any partition, so a copy kept
 * per owner (the hot view) could never be kept exact.
 */
export const memoryCore = (r: Row) => ({
  memoryId: r.memory_id as string, agentId: r.agent_id as string, kind: r.kind as string, text: r.text as string, tags: r.tags as string[],
  importance: r.importance as number, scope: r.scope as string, scopeId: r.scope_id as string, version: r.version as number,
  embeddingDims: r.embedding_dims as number, embeddingModel: r.embedding_model as string, expiresAt: iso(r.expires_at as Date | null),
  createdAt: iso(r.created_at as Date), updatedAt: iso(r.updated_at as Date), forgottenAt: iso(r.forgotten_at as Date | null),
  sourceEventIds: r.source_event_ids as string[],
});
export type MemoryCore = ReturnType<typeof memoryCore>;

/** A memory in a listing: its core plus how often and when it was last recalled. */
export const memoryOut = (r: Row) => ({
  ...memoryCore(r), accessCount: r.access_count as number, lastAccessedAt: iso(r.last_accessed_at as Date | null),
});
export type MemoryItem = ReturnType<typeof memoryOut>;

/** A recall as provenance shows it: what was asked, and which memory versions came back. */
export const recallOut = (r: Row) => ({
  recallId: r.recall_id as string, agentId: r.agent_id as string, occurredAt: iso(r.occurred_at as Date), queryText: r.query_text as string,
  queryVector: r.query_vector as number[], embeddingModel: r.embedding_model as string, filters: r.filters as Record<string, unknown>,
  k: r.k as number, hits: r.hits as unknown[], correlationId: r.correlation_id as string,
});
export type RecallItem = ReturnType<typeof recallOut>;
