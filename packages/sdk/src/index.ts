export { FarmbrainAgent } from './agent.js';
export type {
  AgentClientOptions,
  Receipt,
  RecordOptions,
  DecisionInput,
  TradeInput,
  ClosePositionInput,
  MemoryInput,
  MemoryUpdateInput,
} from './agent.js';
export { GatewayClient } from './memory.js';
export type {
  ConsistencyToken,
  ReadOptions,
  RequestOptions,
  GatewayClientOptions,
  RecallFilters,
  RecallRequest,
  RecallResponse,
  RecallHit,
  ScoreParts,
  MemoryView,
  SimilarDecisionsRequest,
  SimilarDecisionsResponse,
  SimilarDecision,
  DecisionOutcome,
  OutcomeStats,
  DecisionContext,
  RecallRecord,
  VersionedMemory,
} from './memory.js';
export {
  OutboxFullError,
  FlushTimeoutError,
  ClosedError,
  PartitionMismatchError,
  IngressStreamMissingError,
  GatewayError,
  InvalidRequestError,
} from './errors.js';
export { discoverPartitions } from './deployment.js';
export type { DiscoverOptions } from './deployment.js';
export { FarmbrainError, InvalidEventError } from '@farmbrain/contracts';
export type { FarmEvent, EventType, Action, Side, MemoryKind, MemoryTier, Scope, AgentStatus } from '@farmbrain/contracts';
