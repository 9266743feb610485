import {
  ACTIONS,
  AGENT_STATUSES,
  MEMORY_KINDS,
  MEMORY_TIERS,
  SCHEMA_VERSION,
  SCOPES,
  SIDES,
  type FarmEvent,
} from './events.js';
import { isUuidV7 } from './ids.js';
import { AGENT_ID_PATTERN } from './subjects.js';

export const REASON_CODES = [
  'DECODE_ERROR',
  'MISSING_FIELD',
  'INVALID_FIELD',
  'OUT_OF_RANGE',
  'TOO_LARGE',
  'CLOCK_SKEW',
  'AGENT_MISMATCH',
  'UNSUPPORTED_SCHEMA',
  'SCOPE_FORBIDDEN',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export interface ValidationIssue {
  code: ReasonCode;
  /** Dotted path of the offending field, '' for the whole event. */
  field: string;
  message: string;
}

export interface EventLimits {
  /** Largest encoded event, bytes. */
  maxEventBytes: number;
  /** Largest checkpoint state, bytes. */
  maxCheckpointBytes: number;
  maxTextChars: number;
  maxTags: number;
  maxVectorDims: number;
  /** How far ahead of the reference clock occurredAt may be. */
  maxFutureSkewMs: number;
  /** How far behind it may be (an outbox can hold events while NATS is down). */
  maxPastSkewMs: number;
}

export const defaultEventLimits = (): EventLimits => ({
  maxEventBytes: 768 * 1024,
  maxCheckpointBytes: 512 * 1024,
  maxTextChars: 16_384,
  maxTags: 32,
  maxVectorDims: 4096,
  maxFutureSkewMs: 60_000,
  maxPastSkewMs: 7 * 24 * 3600_000,
});

export interface ValidationContext {
  limits: EventLimits;
  /** Reference time, epoch ms: for ingest, when JetStream stored the message (stable on redelivery). */
  now: number;
  /** Agent id taken from the subject, when the event came over NATS. */
  subjectAgentId?: string;
  /** Encoded size of the event, when known. */
  encodedBytes?: number;
}

const finite = (n: number) => typeof n === 'number' && Number.isFinite(n);

/**
 * Everything that makes an event unfit for the canonical log. Pure and
 * deterministic for a given context, so a redelivered message gets the same verdict.
 * Returns [] when the event is valid.
 */
export function validateEvent(e: FarmEvent, ctx: ValidationContext): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const L = ctx.limits;
  const bad = (code: ReasonCode, field: string, message: string) => out.push({ code, field, message });
  const need = (v: string, field: string) => {
    if (v === '') bad('MISSING_FIELD', field, `${field} is required`);
  };
  const text = (v: string, field: string) => {
    if (v.length > L.maxTextChars) bad('TOO_LARGE', field, `${field} has ${v.length} characters; the limit is ${L.maxTextChars}`);
  };
  const unit = (v: number, field: string) => {
    if (!finite(v) || v < 0 || v > 1) bad('OUT_OF_RANGE', field, `${field} must be between 0 and 1, got ${v}`);
  };
  const positive = (v: number, field: string) => {
    if (!finite(v) || v <= 0) bad('OUT_OF_RANGE', field, `${field} must be a positive number, got ${v}`);
  };
  const vector = (v: readonly number[], field: string) => {
    if (v.length > L.maxVectorDims) bad('TOO_LARGE', field, `${field} has ${v.length} dimensions; the limit is ${L.maxVectorDims}`);
    else if (!v.every(finite)) bad('INVALID_FIELD', field, `${field} must hold finite numbers only`);
  };
  const tags = (v: readonly string[], field: string) => {
    if (v.length > L.maxTags) bad('TOO_LARGE', field, `${field} has ${v.length} tags; the limit is ${L.maxTags}`);
    else if (v.some((t) => t === '' || t.length > 64)) bad('INVALID_FIELD', field, `${field} entries must be 1..64 characters`);
  };
  const ids = (v: readonly string[], field: string, max: number) => {
    if (v.length > max) bad('TOO_LARGE', field, `${field} has ${v.length} entries; the limit is ${max}`);
    else if (v.some((t) => t === '' || t.length > 128)) bad('INVALID_FIELD', field, `${field} entries must be 1..128 characters`);
  };
  const model = (v: string, field: string) => {
    if (v.length > 128) bad('TOO_LARGE', field, `${field} is limited to 128 characters`);
  };
  const oneOf = (v: string, allowed: readonly string[], field: string) => {
    if (v === '') bad('MISSING_FIELD', field, `${field} is required (one of ${allowed.join(', ')})`);
    else if (!allowed.includes(v)) bad('INVALID_FIELD', field, `${field} must be one of ${allowed.join(', ')}`);
  };

  // Envelope.
  if (e.eventId === '') bad('MISSING_FIELD', 'eventId', 'eventId is required');
  else if (!isUuidV7(e.eventId)) bad('INVALID_FIELD', 'eventId', `eventId '${e.eventId.slice(0, 64)}' is not a UUIDv7`);
  if (e.agentId === '') bad('MISSING_FIELD', 'agentId', 'agentId is required');
  else if (!AGENT_ID_PATTERN.test(e.agentId)) bad('INVALID_FIELD', 'agentId', `agentId must match ${AGENT_ID_PATTERN}`);
  else if (ctx.subjectAgentId !== undefined && ctx.subjectAgentId !== e.agentId) {
    bad('AGENT_MISMATCH', 'agentId', `agentId '${e.agentId}' does not match the subject's agent '${ctx.subjectAgentId}'`);
  }
  if (!Number.isSafeInteger(e.producerSeq) || e.producerSeq <= 0) {
    bad('MISSING_FIELD', 'producerSeq', 'producerSeq must be a positive integer');
  }
  if (!Number.isSafeInteger(e.occurredAt) || e.occurredAt <= 0) {
    bad('MISSING_FIELD', 'occurredAt', 'occurredAt (epoch ms) is required');
  } else if (e.occurredAt - ctx.now > L.maxFutureSkewMs) {
    bad('CLOCK_SKEW', 'occurredAt', `occurredAt is ${e.occurredAt - ctx.now} ms in the future; at most ${L.maxFutureSkewMs} ms is allowed: check the agent's clock`);
  } else if (ctx.now - e.occurredAt > L.maxPastSkewMs) {
    bad('CLOCK_SKEW', 'occurredAt', `occurredAt is ${ctx.now - e.occurredAt} ms in the past; at most ${L.maxPastSkewMs} ms is allowed`);
  }
  if (e.schemaVersion !== SCHEMA_VERSION) {
    bad('UNSUPPORTED_SCHEMA', 'schemaVersion', `schemaVersion ${e.schemaVersion} is not supported; this deployment reads ${SCHEMA_VERSION}`);
  }
  if (e.correlationId.length > 128 || e.causationId.length > 128) {
    bad('TOO_LARGE', 'correlationId', 'correlationId and causationId are limited to 128 characters');
  }
  if (ctx.encodedBytes !== undefined && ctx.encodedBytes > L.maxEventBytes) {
    bad('TOO_LARGE', '', `event is ${ctx.encodedBytes} bytes encoded; the limit is ${L.maxEventBytes}`);
  }

  // Payload.
  switch (e.type) {
    case 'agent_registered':
      need(e.data.name, 'data.name');
      text(e.data.name, 'data.name');
      break;
    case 'decision_made':
      need(e.data.symbol, 'data.symbol');
      oneOf(e.data.action, ACTIONS, 'data.action');
      if (!finite(e.data.size) || e.data.size < 0) bad('OUT_OF_RANGE', 'data.size', `data.size must be >= 0, got ${e.data.size}`);
      unit(e.data.confidence, 'data.confidence');
      text(e.data.rationale, 'data.rationale');
      vector(e.data.situation, 'data.situation');
      ids(e.data.memoryIds, 'data.memoryIds', 256);
      ids(e.data.recallIds, 'data.recallIds', 64);
      break;
    case 'trade_executed':
      need(e.data.orderId, 'data.orderId');
      need(e.data.symbol, 'data.symbol');
      oneOf(e.data.side, SIDES, 'data.side');
      positive(e.data.qty, 'data.qty');
      positive(e.data.price, 'data.price');
      if (!finite(e.data.fees) || e.data.fees < 0) bad('OUT_OF_RANGE', 'data.fees', `data.fees must be >= 0, got ${e.data.fees}`);
      break;
    case 'position_closed':
      need(e.data.symbol, 'data.symbol');
      if (!finite(e.data.realizedPnl)) bad('INVALID_FIELD', 'data.realizedPnl', 'data.realizedPnl must be a finite number');
      break;
    case 'checkpoint_saved':
      need(e.data.label, 'data.label');
      if (e.data.label.length > 256) bad('TOO_LARGE', 'data.label', 'data.label is limited to 256 characters');
      if (e.data.state.byteLength > L.maxCheckpointBytes) {
        bad('TOO_LARGE', 'data.state', `checkpoint state is ${e.data.state.byteLength} bytes; the limit is ${L.maxCheckpointBytes}`);
      }
      break;
    case 'memory_stored':
      need(e.data.memoryId, 'data.memoryId');
      oneOf(e.data.kind, MEMORY_KINDS, 'data.kind');
      need(e.data.text, 'data.text');
      text(e.data.text, 'data.text');
      tags(e.data.tags, 'data.tags');
      unit(e.data.importance, 'data.importance');
      vector(e.data.embedding, 'data.embedding');
      vector(e.data.situation, 'data.situation');
      oneOf(e.data.scope, SCOPES, 'data.scope');
      if (e.data.scope === 'team' && e.data.scopeId === '') bad('MISSING_FIELD', 'data.scopeId', 'data.scopeId (the team) is required for team scope');
      if (e.data.scope !== 'team' && e.data.scopeId !== '') bad('INVALID_FIELD', 'data.scopeId', 'data.scopeId is only used with team scope; leave it empty');
      ids(e.data.sourceEventIds, 'data.sourceEventIds', 256);
      model(e.data.embeddingModel, 'data.embeddingModel');
      if (e.data.memoryId.length > 128) bad('TOO_LARGE', 'data.memoryId', 'data.memoryId is limited to 128 characters');
      break;
    case 'memory_updated':
      need(e.data.memoryId, 'data.memoryId');
      if (e.data.text !== undefined) text(e.data.text, 'data.text');
      tags(e.data.tags, 'data.tags');
      if (e.data.importance !== undefined) unit(e.data.importance, 'data.importance');
      vector(e.data.embedding, 'data.embedding');
      model(e.data.embeddingModel, 'data.embeddingModel');
      break;
    case 'memory_forgotten':
      need(e.data.memoryId, 'data.memoryId');
      break;
    case 'agent_state_changed':
      oneOf(e.data.status, AGENT_STATUSES, 'data.status');
      break;
    case 'memory_recalled':
      text(e.data.queryText, 'data.queryText');
      vector(e.data.queryVector, 'data.queryVector');
      model(e.data.embeddingModel, 'data.embeddingModel');
      if (!Number.isSafeInteger(e.data.k) || e.data.k < 1 || e.data.k > 1000) bad('OUT_OF_RANGE', 'data.k', `data.k must be 1..1000, got ${e.data.k}`);
      if (e.data.hits.length > 1000) bad('TOO_LARGE', 'data.hits', `data.hits has ${e.data.hits.length} entries; the limit is 1000`);
      e.data.hits.forEach((h, i) => {
        if (h.memoryId === '') bad('MISSING_FIELD', `data.hits.${i}.memoryId`, 'every hit needs a memoryId');
        if (!Number.isSafeInteger(h.version) || h.version < 1) bad('OUT_OF_RANGE', `data.hits.${i}.version`, 'every hit needs a version >= 1');
        if (!MEMORY_TIERS.includes(h.tier)) bad('INVALID_FIELD', `data.hits.${i}.tier`, `tier must be one of ${MEMORY_TIERS.join(', ')}`);
      });
      break;
  }
  return out;
}

/** One line naming every issue, for dead-letter headers and error messages. */
export const describeIssues = (issues: readonly ValidationIssue[]): string =>
  issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; ');
