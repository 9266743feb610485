/**
 * The part of the contracts a browser bundle may import (`@farmbrain/contracts/browser`):
 * the event model's constants and types and the memory API's wire shapes, with
 * no `node:` module and no protobuf, so Vite bundles it for the dashboard as is.
 *
 * `newEventId` lives here and ids.ts re-exports it: uuid's v7 picks its random
 * source per platform (crypto.getRandomValues in a browser), while ids.ts also
 * holds derivedEventId, which needs node:crypto.
 */
import { v7 as uuidv7 } from 'uuid';

/** A fresh UUIDv7 event id (time-ordered), as every producer makes them. */
export const newEventId = (): string => uuidv7();

export { SCHEMA_VERSION, MEMORY_KINDS, SCOPES, ACTIONS, EVENT_TYPES, SYSTEM_EVENT_TYPES, FLEET_AGENT_ID } from './events.js';
export type { MemoryKind, Scope, Action, MemoryTier, EventType } from './events.js';
export type {
  ConsistencyToken,
  RecallFilters,
  RecallRequest,
  ScoreParts,
  MemoryConsolidation,
  MemoryView,
  RecallHit,
  RecallResponse,
  RememberInput,
  WriteResult,
  DecisionContext,
  RecallRecord,
  VersionedMemory,
} from './memoryApi.js';
