export {
  SCHEMA_VERSION,
  ACTIONS,
  SIDES,
  MEMORY_KINDS,
  SCOPES,
  AGENT_STATUSES,
  EVENT_TYPES,
  MEMORY_TIERS,
  RECORD_KINDS,
  TIERS,
  SYSTEM_EVENT_TYPES,
  ALERT_METRICS,
  ALERT_SEVERITIES,
  ALERT_STATES,
  FLEET_AGENT_ID,
} from './events.js';
export type {
  Action,
  Side,
  MemoryKind,
  Scope,
  AgentStatus,
  JsonObject,
  AgentRegistered,
  DecisionMade,
  TradeExecuted,
  PositionClosed,
  CheckpointSaved,
  MemoryStored,
  MemoryUpdated,
  MemoryForgotten,
  AgentStateChanged,
  MemoryRecalled,
  RecalledMemory,
  MemoryTier,
  RecordKind,
  Tier,
  RecordsMoved,
  LegalHoldChanged,
  MemoriesConsolidated,
  AgentRestored,
  MemoryErased,
  AlertChanged,
  AlertMetric,
  AlertSeverity,
  AlertState,
  EventPayloads,
  EventType,
  EventMeta,
  FarmEvent,
  EventOf,
} from './events.js';
export {
  DecodeError,
  toProto,
  fromProto,
  encodeBatch,
  frameBatch,
  batchMsgId,
  encodeEvent,
  encodeRawEvent,
  decodeBatch,
  decodeEvent,
  farmbrain,
} from './codec.js';
export type { DecodedEntry } from './codec.js';
export {
  AGENT_ID_PATTERN,
  NAMESPACE_PATTERN,
  fnv1a32,
  partitionOf,
  agentOfSubject,
  consumerGroup,
  LEASE_KEYS,
  parseDurable,
  names,
  HEADERS,
} from './subjects.js';
export type { Names } from './subjects.js';
export { newEventId, isUuidV7, derivedEventId, HybridSequence } from './ids.js';
export { REASON_CODES, defaultEventLimits, validateEvent, describeIssues } from './validate.js';
export type { ReasonCode, ValidationIssue, EventLimits, ValidationContext } from './validate.js';
export {
  FIELD_RULES,
  ENVELOPE_RULES,
  PAYLOAD_RULES,
  FLOAT32_MAX,
  SITUATION_BOUND,
  AMOUNT_MAX,
  PNL_MAX,
  MAX_TIME_MS,
  INT32_MAX,
  JSON_MAX_DEPTH,
  TEAM_NAME_PATTERN,
  limitOf,
  rangeOf,
  describeRule,
} from './fieldRules.js';
export type {
  Rule,
  RuleFor,
  RulesOf,
  Limit,
  LimitKey,
  TextRule,
  IdRule,
  EnumRule,
  BoolRule,
  NumberRule,
  IntRule,
  TimeRule,
  SchemaVersionRule,
  VectorRule,
  ListRule,
  BytesRule,
  JsonRule,
  ObjectsRule,
} from './fieldRules.js';
export { checkField } from './checkField.js';
export { textProblem, describeTextProblem, codePointName, printable } from './textRule.js';
export type { TextMode, TextProblem } from './textRule.js';
export { FarmbrainError, InvalidEventError } from './errors.js';
export { EMPTY_SCOPE_POLICY, parseScopePolicy, ownerKey, writeDenial, teamsOf, readableOwnerKeys } from './scopes.js';
export type { ScopePolicy } from './scopes.js';
export { PAYLOAD_DEFAULTS, withDefaults } from './defaults.js';
export type { PayloadInput } from './defaults.js';
export { buildEnvelope } from './envelope.js';
export type { EnvelopeInput, EnvelopeSource } from './envelope.js';
export { DEFAULT_BATCH_LIMITS, nextBatchLength, batchesOf, batchMessage } from './batching.js';
export type { BatchLimits, EncodedEvent } from './batching.js';
export { instantMs, parseInstant } from './time.js';
export type { InstantInput } from './time.js';
export { memoryDocument } from './memoryApi.js';
export { encodeConsistencyToken, consistencyTokenOf, decodeConsistencyToken, mergeConsistencyTokens } from './consistency.js';
export type { ConsistencyMarks } from './consistency.js';
export type {
  ConsistencyToken,
  RememberInput,
  MemoryPatch,
  WriteResult,
  RecallFilters,
  RecallRequest,
  ScoreParts,
  MemoryView,
  RecallHit,
  RecallResponse,
  SimilarDecisionsRequest,
  DecisionOutcome,
  SimilarDecision,
  OutcomeStats,
  SimilarDecisionsResponse,
  VersionedMemory,
  RecallRecord,
  DecisionContext,
  MemoryConsolidation,
  ConsolidateRequest,
  ConsolidationGroupView,
  ConsolidateResponse,
  EraseBody,
  EraseResult,
  ErasureView,
} from './memoryApi.js';
export type { DeadLetterItem, DeadLetterPage, ReplayedDeadLetter } from './deadLetterApi.js';
export { SEALED_TEXT, ERASED_TEXT, SealError, sealEvent, unsealEvent, hasContent } from './seal.js';
export type { SealableEvent } from './seal.js';
