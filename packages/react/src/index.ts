export { AgentMemoryClient, DEFAULT_LIMITS } from './AgentMemoryClient.js';
export type { AgentMemoryClientOptions, LockManagerLike, OnlineEvents, StorageChange, StorageEvents } from './AgentMemoryClient.js';
export { AgentMemoryProvider } from './AgentMemoryProvider.js';
export type { AgentMemoryProviderProps } from './AgentMemoryProvider.js';
export { useAgentMemory, useAgentMemoryClient } from './useAgentMemory.js';
export type { AgentMemory } from './useAgentMemory.js';
export { GatewayError, isRetryable } from './gatewayError.js';
export { MemoryStorage } from './memoryStorage.js';
export type { StorageLike } from './memoryStorage.js';
export type { FetchLike } from './gatewayHttp.js';
export type { BackoffOptions } from './backoff.js';
export type {
  AgentMemoryState,
  AgentReadLimits,
  AgentState,
  ClientError,
  DecisionItem,
  MemoryCore,
  MemoryItem,
  MemoryStatus,
  PendingWrite,
  PositionItem,
  RememberInput,
} from './types.js';
export type { RecallRequest, RecallResponse, RecallHit, MemoryView, ScoreParts } from '@farmbrain/contracts/browser';
