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
export { OutboxFullError, FlushTimeoutError, ClosedError } from './errors.js';
export { FarmbrainError, InvalidEventError } from '@farmbrain/contracts';
export type { FarmEvent, EventType, Action, Side, MemoryKind, Scope, AgentStatus } from '@farmbrain/contracts';
