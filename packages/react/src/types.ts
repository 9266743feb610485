/**
 * The gateway's answers as this package reads them (services/gateway/src/http/responses.ts is
 * their schema; the listings' times are ISO strings) and the state a client keeps per agent.
 */
import type { MemoryKind, Scope } from '@farmbrain/contracts/browser';

/** An item of GET /v1/agents/:agentId/decisions (newest first). */
export interface DecisionItem {
  decisionId: string;
  agentId: string;
  occurredAt: string;
  symbol: string;
  action: string;
  size: number;
  confidence: number;
  rationale: string;
  situation: number[];
  memoryIds: string[];
  recallIds: string[];
  producerSeq: number;
  correlationId: string;
  tier?: 'warm' | 'cold' | 'archive';
}

/** A memory as its owner's events leave it (the agent state's recentMemories). */
export interface MemoryCore {
  memoryId: string;
  agentId: string;
  kind: MemoryKind;
  text: string;
  tags: string[];
  importance: number;
  scope: Scope;
  scopeId: string;
  version: number;
  embeddingDims: number;
  embeddingModel: string;
  expiresAt: string | null;
  createdAt: string;
  updatedAt: string;
  forgottenAt: string | null;
  sourceEventIds: string[];
}

/** An item of GET /v1/agents/:agentId/memories (newest first): the memory and its usage counters. */
export interface MemoryItem extends MemoryCore {
  accessCount: number;
  lastAccessedAt: string | null;
}

export interface PositionItem {
  positionId: string;
  agentId: string;
  symbol: string;
  status: 'open' | 'closed';
  qty: number;
  avgPrice: number;
  fees: number;
  openedAt: string;
  closedAt: string | null;
  realizedPnl: number | null;
  exitPrice: number | null;
  decisionIds: string[];
  tradeCount: number;
  holdingMs: number | null;
}

/** GET /v1/agents/:agentId: the agent's current state. */
export interface AgentState {
  agentId: string;
  name: string;
  team: string;
  strategy: string;
  status: string;
  config: Record<string, unknown>;
  registeredAt: string | null;
  firstSeenAt: string | null;
  lastEventAt: string | null;
  openPositions: PositionItem[];
  recentDecisions: DecisionItem[];
  recentMemories: MemoryCore[];
  source: 'hot' | 'warm';
}

/** What `remember` takes: the memory; kind defaults to 'observation', importance to the contract's 0.5. */
export interface RememberInput {
  text: string;
  kind?: MemoryKind;
  tags?: string[];
  importance?: number;
}

/**
 * A write waiting for the gateway: a memory_stored event whose ids were fixed when it was queued
 * (a resend carries the same event id and memory id, so the pipeline keeps one).
 */
export interface PendingWrite {
  eventId: string;
  memoryId: string;
  agentId: string;
  kind: MemoryKind;
  text: string;
  tags?: string[];
  importance?: number;
  /** When it was remembered, epoch ms: the event's occurredAt. */
  queuedAt: number;
  /** Sends that got no answer (or a retryable one) so far. */
  attempts: number;
}

/** An error as the gateway states it (`{ error: { code, message } }`), or the client's own (GATEWAY_UNREACHABLE, WRITE_REFUSED, ...). */
export interface ClientError {
  code: string;
  message: string;
  /**
   * The queued write it is about, when it is about one. Such an error outlives later reads: a
   * refused write's stays until the next remember() of the agent, a waiting write's until it is sent.
   */
  eventId?: string;
}

export type MemoryStatus = 'loading' | 'online' | 'offline';

/** What `useAgentMemory` shows of one agent (one immutable object per change, for useSyncExternalStore). */
export interface AgentMemoryState {
  agentId: string;
  /** loading: no answer yet; online: the last read was answered; offline: the gateway did not answer (data: the last known copy). */
  status: MemoryStatus;
  /** true when the data shown came from the cache or the stored copy rather than a fresh answer. */
  stale: boolean;
  agent: AgentState | undefined;
  memories: MemoryItem[];
  decisions: DecisionItem[];
  /** This agent's writes not yet acknowledged by the gateway, oldest first. */
  pending: PendingWrite[];
  error: ClientError | undefined;
  /** When the data shown was fetched (epoch ms), undefined before any answer. */
  fetchedAt: number | undefined;
}

/** Page sizes of an agent's reads. */
export interface AgentReadLimits {
  /** Memories per read, default 50. */
  memories?: number;
  /** Decisions per read (most recent first), default 20. */
  decisions?: number;
}
