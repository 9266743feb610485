import protobuf from 'protobufjs/minimal.js';
import { farmbrain } from './gen/farmbrain.js';
import type {
  Action,
  AlertMetric,
  AlertSeverity,
  AlertState,
  AgentStatus,
  EventMeta,
  EventType,
  FarmEvent,
  JsonObject,
  MemoryKind,
  MemoryTier,
  MemoryUpdated,
  RecordKind,
  Scope,
  Side,
  Tier,
} from './events.js';

const pb = farmbrain.v1;

// 64-bit fields (producer sequences, times) decode straight to numbers, not Long objects: every value the
// contract accepts is a safe integer (a larger one decodes to an unsafe number, which validation refuses).
// Decoding without Long allocations is a large part of a projection's per-event cost.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

/** Raised when bytes are not a valid protobuf EventBatch/Event, or a payload is missing. */
export class DecodeError extends Error {
  readonly code = 'DECODE_ERROR';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DecodeError';
  }
}

const ACTION_TO_PB: Record<Action, number> = { buy: 1, sell: 2, hold: 3, close: 4 };
const SIDE_TO_PB: Record<Side, number> = { buy: 1, sell: 2 };
const KIND_TO_PB: Record<MemoryKind, number> = { observation: 1, reflection: 2, lesson: 3, fact: 4, procedure: 5 };
const SCOPE_TO_PB: Record<Scope, number> = { agent: 1, team: 2, fleet: 3 };
const STATUS_TO_PB: Record<AgentStatus, number> = { active: 1, paused: 2, stopped: 3, error: 4 };
const RECORD_KIND_TO_PB: Record<RecordKind, number> = { decision: 1, trade: 2, checkpoint: 3, memory: 4, recall: 5 };
const TIER_TO_PB: Record<Tier, number> = { hot: 1, warm: 2, cold: 3, archive: 4, deleted: 5 };
const invert = <K extends string>(m: Record<K, number>): Record<number, K | undefined> =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [v, k])) as Record<number, K | undefined>;
const PB_TO_ACTION = invert(ACTION_TO_PB);
const PB_TO_SIDE = invert(SIDE_TO_PB);
const PB_TO_KIND = invert(KIND_TO_PB);
const PB_TO_SCOPE = invert(SCOPE_TO_PB);
const PB_TO_STATUS = invert(STATUS_TO_PB);
const PB_TO_RECORD_KIND = invert(RECORD_KIND_TO_PB);
const PB_TO_TIER = invert(TIER_TO_PB);

/** Protobuf oneof case name for each event type. */
const CASE_OF: Record<EventType, string> = {
  agent_registered: 'agentRegistered',
  decision_made: 'decisionMade',
  trade_executed: 'tradeExecuted',
  position_closed: 'positionClosed',
  checkpoint_saved: 'checkpointSaved',
  memory_stored: 'memoryStored',
  memory_updated: 'memoryUpdated',
  memory_forgotten: 'memoryForgotten',
  agent_state_changed: 'agentStateChanged',
  memory_recalled: 'memoryRecalled',
  records_moved: 'recordsMoved',
  legal_hold_changed: 'legalHoldChanged',
  memories_consolidated: 'memoriesConsolidated',
  agent_restored: 'agentRestored',
  memory_erased: 'memoryErased',
  alert_changed: 'alertChanged',
};
const TYPE_OF: Record<string, EventType> = Object.fromEntries(
  Object.entries(CASE_OF).map(([t, c]) => [c, t as EventType]),
);

const toJsonText = (o: JsonObject | undefined): string => (o === undefined ? '' : JSON.stringify(o));
const fromJsonText = (s: string, what: string): JsonObject => {
  if (s === '') return {};
  try {
    const v: unknown = JSON.parse(s);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as JsonObject;
  } catch (err) {
    throw new DecodeError(`${what} is not a JSON object`, { cause: err });
  }
};
/** Unknown enum numbers decode to '' so validation can report them by field. */
const enumName = <K extends string>(m: Record<number, K | undefined>, n: number | null | undefined): K =>
  (m[n ?? 0] ?? '') as K;

function payloadToPb(e: FarmEvent): Record<string, unknown> {
  switch (e.type) {
    case 'agent_registered':
      return { ...e.data, config: undefined, configJson: toJsonText(e.data.config) };
    case 'decision_made':
      return { ...e.data, action: ACTION_TO_PB[e.data.action] ?? 0 };
    case 'trade_executed':
      return { ...e.data, side: SIDE_TO_PB[e.data.side] ?? 0 };
    case 'position_closed':
    case 'checkpoint_saved':
    case 'memory_forgotten':
      return { ...e.data };
    case 'memory_stored':
      return {
        ...e.data,
        kind: KIND_TO_PB[e.data.kind] ?? 0,
        scope: SCOPE_TO_PB[e.data.scope] ?? 0,
        expiresAtMs: e.data.expiresAt,
      };
    case 'memory_updated': {
      const { expiresAt, ...rest } = e.data;
      return expiresAt === undefined ? rest : { ...rest, expiresAtMs: expiresAt };
    }
    case 'agent_state_changed':
      return { status: STATUS_TO_PB[e.data.status] ?? 0, configJson: toJsonText(e.data.config), reason: e.data.reason };
    case 'memory_recalled':
      return { ...e.data, filters: undefined, filtersJson: toJsonText(e.data.filters) };
    case 'records_moved':
      return { ...e.data, kind: RECORD_KIND_TO_PB[e.data.kind] ?? 0, fromTier: TIER_TO_PB[e.data.fromTier] ?? 0, toTier: TIER_TO_PB[e.data.toTier] ?? 0 };
    case 'legal_hold_changed':
    case 'memories_consolidated':
    case 'agent_restored':
    case 'memory_erased':
      return { ...e.data };
    case 'alert_changed': {
      const { firedAt, ...rest } = e.data;
      return { ...rest, firedAtMs: firedAt };
    }
  }
}

export function toProto(e: FarmEvent): farmbrain.v1.Event {
  const msg = new pb.Event({
    eventId: e.eventId,
    agentId: e.agentId,
    producerSeq: e.producerSeq,
    occurredAtMs: e.occurredAt,
    correlationId: e.correlationId,
    causationId: e.causationId,
    schemaVersion: e.schemaVersion,
  });
  (msg as unknown as Record<string, unknown>)[CASE_OF[e.type]] = payloadToPb(e);
  return msg;
}

/** Maps a decoded protobuf event to the typed model. Throws DecodeError when it has no payload. */
export function fromProto(m: farmbrain.v1.Event): FarmEvent {
  const meta: EventMeta = {
    eventId: m.eventId,
    agentId: m.agentId,
    producerSeq: Number(m.producerSeq),
    occurredAt: Number(m.occurredAtMs),
    correlationId: m.correlationId,
    causationId: m.causationId,
    schemaVersion: m.schemaVersion,
  };
  const kase = m.payload;
  const type = kase === undefined ? undefined : TYPE_OF[kase];
  if (type === undefined) throw new DecodeError('event has no payload');
  switch (type) {
    case 'agent_registered': {
      const p = m.agentRegistered!;
      return { ...meta, type, data: { name: p.name ?? '', team: p.team ?? '', strategy: p.strategy ?? '', config: fromJsonText(p.configJson ?? '', 'agent_registered.config') } };
    }
    case 'decision_made': {
      const p = m.decisionMade!;
      return {
        ...meta,
        type,
        data: {
          symbol: p.symbol ?? '',
          action: enumName(PB_TO_ACTION, p.action),
          size: p.size ?? 0,
          confidence: p.confidence ?? 0,
          rationale: p.rationale ?? '',
          situation: p.situation ?? [],
          memoryIds: p.memoryIds ?? [],
          recallIds: p.recallIds ?? [],
        },
      };
    }
    case 'trade_executed': {
      const p = m.tradeExecuted!;
      return {
        ...meta,
        type,
        data: {
          orderId: p.orderId ?? '',
          symbol: p.symbol ?? '',
          side: enumName(PB_TO_SIDE, p.side),
          qty: p.qty ?? 0,
          price: p.price ?? 0,
          fees: p.fees ?? 0,
          decisionId: p.decisionId ?? '',
        },
      };
    }
    case 'position_closed': {
      const p = m.positionClosed!;
      return { ...meta, type, data: { symbol: p.symbol ?? '', realizedPnl: p.realizedPnl ?? 0, decisionIds: p.decisionIds ?? [], exitPrice: p.exitPrice ?? 0 } };
    }
    case 'checkpoint_saved': {
      const p = m.checkpointSaved!;
      return { ...meta, type, data: { label: p.label ?? '', state: p.state ?? new Uint8Array() } };
    }
    case 'memory_stored': {
      const p = m.memoryStored!;
      return {
        ...meta,
        type,
        data: {
          memoryId: p.memoryId ?? '',
          kind: enumName(PB_TO_KIND, p.kind),
          text: p.text ?? '',
          tags: p.tags ?? [],
          importance: p.importance ?? 0,
          embedding: p.embedding ?? [],
          scope: enumName(PB_TO_SCOPE, p.scope),
          scopeId: p.scopeId ?? '',
          expiresAt: Number(p.expiresAtMs ?? 0),
          sourceEventIds: p.sourceEventIds ?? [],
          situation: p.situation ?? [],
          embeddingModel: p.embeddingModel ?? '',
          ...(p.sealed && p.sealed.length > 0 ? { sealed: p.sealed } : {}),
        },
      };
    }
    case 'memory_updated': {
      const p = m.memoryUpdated!;
      const data: MemoryUpdated = {
        memoryId: p.memoryId ?? '',
        tags: p.tags ?? [],
        replaceTags: p.replaceTags ?? false,
        embedding: p.embedding ?? [],
        embeddingModel: p.embeddingModel ?? '',
      };
      if (p.text != null) data.text = p.text;
      if (p.importance != null) data.importance = p.importance;
      if (p.expiresAtMs != null) data.expiresAt = Number(p.expiresAtMs);
      if (p.sealed && p.sealed.length > 0) data.sealed = p.sealed;
      return { ...meta, type, data };
    }
    case 'memory_forgotten': {
      const p = m.memoryForgotten!;
      return { ...meta, type, data: { memoryId: p.memoryId ?? '', reason: p.reason ?? '' } };
    }
    case 'agent_state_changed': {
      const p = m.agentStateChanged!;
      const config = p.configJson ? fromJsonText(p.configJson, 'agent_state_changed.config') : undefined;
      return {
        ...meta,
        type,
        data: { status: enumName(PB_TO_STATUS, p.status), reason: p.reason ?? '', ...(config ? { config } : {}) },
      };
    }
    case 'memory_recalled': {
      const p = m.memoryRecalled!;
      return {
        ...meta,
        type,
        data: {
          queryText: p.queryText ?? '',
          queryVector: p.queryVector ?? [],
          filters: fromJsonText(p.filtersJson ?? '', 'memory_recalled.filters'),
          k: p.k ?? 0,
          hits: (p.hits ?? []).map((h) => ({
            memoryId: h.memoryId ?? '',
            version: h.version ?? 0,
            score: h.score ?? 0,
            tier: (h.tier ?? '') as MemoryTier,
          })),
          embeddingModel: p.embeddingModel ?? '',
          latencyMs: p.latencyMs ?? 0,
        },
      };
    }
    case 'records_moved': {
      const p = m.recordsMoved!;
      return {
        ...meta,
        type,
        data: {
          kind: enumName(PB_TO_RECORD_KIND, p.kind),
          fromTier: enumName(PB_TO_TIER, p.fromTier),
          toTier: enumName(PB_TO_TIER, p.toTier),
          dayMs: Number(p.dayMs ?? 0),
          recordIds: p.recordIds ?? [],
          policy: p.policy ?? '',
          reason: p.reason ?? '',
        },
      };
    }
    case 'legal_hold_changed': {
      const p = m.legalHoldChanged!;
      return { ...meta, type, data: { held: p.held ?? false, recordIds: p.recordIds ?? [], reason: p.reason ?? '', operator: p.operator ?? '' } };
    }
    case 'memories_consolidated': {
      const p = m.memoriesConsolidated!;
      return {
        ...meta,
        type,
        data: {
          canonicalMemoryId: p.canonicalMemoryId ?? '', mergedIds: p.mergedIds ?? [], text: p.text ?? '', representativeId: p.representativeId ?? '',
          method: p.method ?? '', similarityThreshold: p.similarityThreshold ?? 0, reason: p.reason ?? '',
        },
      };
    }
    case 'agent_restored': {
      const p = m.agentRestored!;
      return { ...meta, type, data: { checkpointId: p.checkpointId ?? '', reason: p.reason ?? '', operator: p.operator ?? '' } };
    }
    case 'memory_erased': {
      const p = m.memoryErased!;
      return { ...meta, type, data: { memoryId: p.memoryId ?? '', reason: p.reason ?? '', operator: p.operator ?? '' } };
    }
    case 'alert_changed': {
      const p = m.alertChanged!;
      return {
        ...meta,
        type,
        data: {
          alertId: p.alertId ?? '', rule: p.rule ?? '', metric: (p.metric ?? '') as AlertMetric, state: (p.state ?? '') as AlertState,
          severity: (p.severity ?? '') as AlertSeverity, subject: p.subject ?? '', value: p.value ?? 0, threshold: p.threshold ?? 0,
          message: p.message ?? '', firedAt: Number(p.firedAtMs ?? 0),
        },
      };
    }
  }
}

/** Encodes the events of ONE agent, in producer order, as one message body. */
export function encodeBatch(events: readonly FarmEvent[]): Uint8Array {
  return pb.EventBatch.encode({ events: events.map(toProto) }).finish();
}

/**
 * Frames already-encoded events as one EventBatch body. Protobuf concatenates
 * repeated fields, so a producer can encode each event once (when it is
 * recorded) and batch them later without re-encoding.
 */
export function frameBatch(encodedEvents: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const e of encodedEvents) size += 1 + varintSize(e.byteLength) + e.byteLength;
  const out = new Uint8Array(size);
  let o = 0;
  for (const e of encodedEvents) {
    out[o++] = 0x0a; // field 1, length-delimited
    let n = e.byteLength;
    while (n > 0x7f) {
      out[o++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[o++] = n;
    out.set(e, o);
    o += e.byteLength;
  }
  return out;
}

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/**
 * The Nats-Msg-Id of a message carrying these events (first id + count). A
 * sender must resend a message with the same composition for JetStream to dedupe it.
 */
export const batchMsgId = (events: readonly { eventId: string }[]): string =>
  events.length === 1 ? events[0]!.eventId : `${events[0]!.eventId}+${events.length}`;

/** Encodes one event alone (used for dead-letter bodies and size checks). */
export function encodeEvent(e: FarmEvent): Uint8Array {
  return pb.Event.encode(toProto(e)).finish();
}

export interface DecodedEntry {
  /** The typed event, or undefined when this entry could not be mapped. */
  event?: FarmEvent;
  /** The raw protobuf event (always present), to dead-letter it as it came. */
  raw: farmbrain.v1.Event;
  error?: DecodeError;
}

/**
 * Decodes one message body. A body that is not an EventBatch throws DecodeError;
 * an entry that decodes but cannot be mapped is returned with its error, so the
 * caller can dead-letter that event alone and keep its neighbours.
 */
export function decodeBatch(bytes: Uint8Array): DecodedEntry[] {
  let batch: farmbrain.v1.EventBatch;
  try {
    batch = pb.EventBatch.decode(bytes);
  } catch (err) {
    throw new DecodeError(`message is not a protobuf EventBatch: ${(err as Error).message}`, { cause: err });
  }
  return batch.events.map((raw) => {
    const ev = raw as farmbrain.v1.Event;
    try {
      return { raw: ev, event: fromProto(ev) };
    } catch (err) {
      return { raw: ev, error: err instanceof DecodeError ? err : new DecodeError(String(err), { cause: err }) };
    }
  });
}

/** Encodes a raw protobuf event as it came (for the dead-letter stream). */
export function encodeRawEvent(raw: farmbrain.v1.Event): Uint8Array {
  return pb.Event.encode(raw).finish();
}

/** Decodes a single Event body (dead-letter entries). */
export function decodeEvent(bytes: Uint8Array): FarmEvent {
  try {
    return fromProto(pb.Event.decode(bytes));
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError(`body is not a protobuf Event: ${(err as Error).message}`, { cause: err });
  }
}

export { farmbrain };
