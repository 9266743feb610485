/**
 * The typed event model agents and services work with. The wire form is the
 * protobuf in proto/farmbrain/v1/events.proto; `codec.ts` maps between the two.
 */

export const SCHEMA_VERSION = 1;

export const ACTIONS = ['buy', 'sell', 'hold', 'close'] as const;
export type Action = (typeof ACTIONS)[number];

export const SIDES = ['buy', 'sell'] as const;
export type Side = (typeof SIDES)[number];

export const MEMORY_KINDS = ['observation', 'reflection', 'lesson', 'fact', 'procedure'] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];

export const SCOPES = ['agent', 'team', 'fleet'] as const;
export type Scope = (typeof SCOPES)[number];

export const AGENT_STATUSES = ['active', 'paused', 'stopped', 'error'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export type JsonObject = { [key: string]: unknown };

export interface AgentRegistered {
  name: string;
  team: string;
  strategy: string;
  config: JsonObject;
}

export interface DecisionMade {
  symbol: string;
  action: Action;
  size: number;
  /** 0..1 */
  confidence: number;
  rationale: string;
  /** Numeric market-situation features, for outcome-linked recall. */
  situation: number[];
  /** Ids of the memories the agent cites as the basis of this decision. */
  memoryIds: string[];
  /** Recall ids (event ids of memory_recalled) the agent consulted before deciding. */
  recallIds: string[];
}

export interface TradeExecuted {
  orderId: string;
  symbol: string;
  side: Side;
  qty: number;
  price: number;
  fees: number;
  /** The decision this trade carries out ('' when none). */
  decisionId: string;
}

export interface PositionClosed {
  symbol: string;
  realizedPnl: number;
  decisionIds: string[];
  exitPrice: number;
}

export interface CheckpointSaved {
  label: string;
  state: Uint8Array;
}

export interface MemoryStored {
  memoryId: string;
  kind: MemoryKind;
  text: string;
  tags: string[];
  /** 0..1 */
  importance: number;
  embedding: number[];
  scope: Scope;
  /** Team name when scope is 'team'. */
  scopeId: string;
  /** Epoch ms; 0 = never. */
  expiresAt: number;
  sourceEventIds: string[];
  situation: number[];
  /** Model that made `embedding` ('' with an embedding = 'client'; ignored without one). */
  embeddingModel: string;
  /** Set by ingest only: text and embedding encrypted with the memory's key (see seal.ts); `text` is then SEALED_TEXT. */
  sealed?: Uint8Array;
}

export interface MemoryUpdated {
  memoryId: string;
  text?: string;
  /** Added to the memory's tags, or replacing them when replaceTags. */
  tags: string[];
  replaceTags: boolean;
  importance?: number;
  /** Empty = unchanged (re-embedded by the projection when the text changes). */
  embedding: number[];
  expiresAt?: number;
  embeddingModel: string;
  /** Set by ingest only: see MemoryStored.sealed. */
  sealed?: Uint8Array;
}

export interface MemoryForgotten {
  memoryId: string;
  reason: string;
}

export const MEMORY_TIERS = ['hot', 'warm'] as const;
export type MemoryTier = (typeof MEMORY_TIERS)[number];

export interface RecalledMemory {
  memoryId: string;
  /** The version of the memory that was returned. */
  version: number;
  score: number;
  tier: MemoryTier;
}

/** A recall served to the agent; its eventId is the recall id. */
export interface MemoryRecalled {
  queryText: string;
  /** Only when the agent supplied its own query vector. */
  queryVector: number[];
  filters: JsonObject;
  k: number;
  hits: RecalledMemory[];
  /** Model the query was embedded with ('' = no vector search). */
  embeddingModel: string;
  /** How long the recall took to serve, ms, as measured by the server that served it (0 = not measured). */
  latencyMs: number;
}

export interface AgentStateChanged {
  status: AgentStatus;
  /** Replaces the agent's config when present. */
  config?: JsonObject;
  reason: string;
}

/** The kinds of record lifecycle policies act on. */
export const RECORD_KINDS = ['decision', 'trade', 'checkpoint', 'memory', 'recall'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** Where a record lives, hottest first (see proto Tier). */
export const TIERS = ['hot', 'warm', 'cold', 'archive', 'deleted'] as const;
export type Tier = (typeof TIERS)[number];

/** Records of the event's agent moved between tiers by a lifecycle policy (published by the scheduler, never by agents). */
export interface RecordsMoved {
  kind: RecordKind;
  fromTier: Tier;
  toTier: Tier;
  /** Epoch ms of the UTC midnight of the day whose records move; 0 when recordIds name them. */
  dayMs: number;
  /** These records only; empty = every record of `kind` in `fromTier` that occurred that day. */
  recordIds: string[];
  /** The policy, e.g. `decision.coldAfterDays`. */
  policy: string;
  /** Why, in words, with the values that decided it. */
  reason: string;
}

/** An operator put the agent (recordIds empty) or some of its records under legal hold, or lifted it. */
export interface LegalHoldChanged {
  held: boolean;
  recordIds: string[];
  reason: string;
  operator: string;
}

/** Near-duplicate memories of the agent merged into one canonical memory; the originals leave recall but stay readable. */
export interface MemoriesConsolidated {
  canonicalMemoryId: string;
  mergedIds: string[];
  text: string;
  /** The original whose text and embedding stand for the group ('' when the text is a summary). */
  representativeId: string;
  /** `representative`, or `summary:<model>`. */
  method: string;
  similarityThreshold: number;
  reason: string;
}

/** The agent was restored to one of its checkpoints (the event id of that checkpoint_saved). */
export interface AgentRestored {
  checkpointId: string;
  reason: string;
  operator: string;
}

/** An operator erased the memory: its key is destroyed; every store removes its content. */
export interface MemoryErased {
  memoryId: string;
  reason: string;
  operator: string;
}

export const ALERT_STATES = ['firing', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** The metrics alert rules watch (see the analytics service's alert rules). */
export const ALERT_METRICS = ['consumer_lag', 'dead_letter_rate', 'tier_size', 'win_rate_drop', 'projection_errors', 'recall_p95'] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];

/**
 * The agent id under which events about the whole deployment rather than one agent are published (a
 * fleet-wide alert). It is a valid agent id; tiering does not apply alert_changed, so it never shows as an agent.
 */
export const FLEET_AGENT_ID = '_fleet';

/**
 * An alert rule started firing, or stopped (published by the analytics service's evaluator, never by agents).
 * The event's agentId is the agent the alert is about, or FLEET_AGENT_ID. A firing and its resolution share `alertId`.
 */
export interface AlertChanged {
  /** One firing: derived from rule, subject and firedAt, the same in its `resolved` event. */
  alertId: string;
  /** The rule's name in the configuration. */
  rule: string;
  metric: AlertMetric;
  state: AlertState;
  severity: AlertSeverity;
  /** What the alert is about: `fleet`, an agent id, a projection, a tier. */
  subject: string;
  /** The metric's value when the state changed. */
  value: number;
  threshold: number;
  /** For people: what is wrong and what to look at. */
  message: string;
  /** Epoch ms this firing began (in the resolved event too). */
  firedAt: number;
}

export interface EventPayloads {
  agent_registered: AgentRegistered;
  decision_made: DecisionMade;
  trade_executed: TradeExecuted;
  position_closed: PositionClosed;
  checkpoint_saved: CheckpointSaved;
  memory_stored: MemoryStored;
  memory_updated: MemoryUpdated;
  memory_forgotten: MemoryForgotten;
  agent_state_changed: AgentStateChanged;
  memory_recalled: MemoryRecalled;
  records_moved: RecordsMoved;
  legal_hold_changed: LegalHoldChanged;
  memories_consolidated: MemoriesConsolidated;
  agent_restored: AgentRestored;
  memory_erased: MemoryErased;
  alert_changed: AlertChanged;
}

export type EventType = keyof EventPayloads;
export const EVENT_TYPES = [
  'agent_registered',
  'decision_made',
  'trade_executed',
  'position_closed',
  'checkpoint_saved',
  'memory_stored',
  'memory_updated',
  'memory_forgotten',
  'agent_state_changed',
  'memory_recalled',
  'records_moved',
  'legal_hold_changed',
  'memories_consolidated',
  'agent_restored',
  'memory_erased',
  'alert_changed',
] as const satisfies readonly EventType[];

/**
 * Event types only farmbrain's own components publish (the lifecycle scheduler,
 * operator actions): the agent-facing write paths (HTTP, MCP, the SDK) refuse them.
 */
export const SYSTEM_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>(['records_moved', 'legal_hold_changed', 'memories_consolidated', 'memory_erased', 'alert_changed']);

export interface EventMeta {
  /** UUIDv7. */
  eventId: string;
  agentId: string;
  /** Strictly increasing per agent. */
  producerSeq: number;
  /** Epoch milliseconds. */
  occurredAt: number;
  correlationId: string;
  causationId: string;
  schemaVersion: number;
}

/** One event: metadata plus a payload discriminated by `type`. */
export type FarmEvent = {
  [T in EventType]: EventMeta & { type: T; data: EventPayloads[T] };
}[EventType];

export type EventOf<T extends EventType> = Extract<FarmEvent, { type: T }>;
