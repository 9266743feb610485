import { Type, type TSchema } from 'typebox';
import Value from 'typebox/value';
import type { JetStreamClient } from '@nats-io/jetstream';
import { DependencyUnavailableError, isConnectionFailure } from '@farmbrain/platform';
import {
  batchesOf,
  batchMessage,
  buildEnvelope,
  describeRule,
  encodeEvent,
  EVENT_TYPES,
  FarmbrainError,
  HybridSequence,
  instantMs,
  newEventId,
  PAYLOAD_DEFAULTS,
  PAYLOAD_RULES,
  SYSTEM_EVENT_TYPES,
  validateEvent,
  type EnvelopeInput,
  type EventLimits,
  type Rule,
  type EventType,
  type FarmEvent,
  type Names,
  type ValidationIssue,
} from '@farmbrain/contracts';

const Obj = Type.Record(Type.String(), Type.Unknown());

/**
 * The JSON form of a field under its contract rule. It states the JSON type only
 * (numbers as numbers, bytes as base64, enums as literals, objects closed); the
 * rule's bounds are in `description` and are enforced by validateEvent, so a
 * value of the right type gets the same reason code (OUT_OF_RANGE, TOO_LARGE,
 * INVALID_TEXT...) over HTTP as over NATS.
 */
function jsonSchemaOf(rule: Rule): TSchema {
  const description = describeRule(rule);
  switch (rule.kind) {
    case 'text':
    case 'id':
      return Type.String({ description });
    case 'enum':
      return Type.Union(rule.values.map((v) => Type.Literal(v)), { description });
    case 'bool':
      return Type.Boolean();
    case 'number':
      return Type.Number({ description });
    case 'int':
    case 'time':
    case 'schemaVersion':
      return Type.Integer({ description });
    case 'vector':
      return Type.Array(Type.Number(), { description });
    case 'list':
      return Type.Array(Type.String(), { description });
    case 'bytes':
      return Type.String({ contentEncoding: 'base64', description: `base64 of ${description}` });
    case 'json':
      return Type.Record(Type.String(), Type.Unknown(), { description });
    case 'objects':
      return Type.Array(objectSchemaOf(rule.fields as Record<string, Rule>, new Set()), { description });
  }
}

/** Fields farmbrain writes itself (ingest's sealed memory content) are not part of what producers send. */
const producerFields = (rules: Record<string, Rule>) => Object.entries(rules).filter(([, r]) => !(r.kind === 'bytes' && r.internal));

const objectSchemaOf = (rules: Record<string, Rule>, optional: ReadonlySet<string>) =>
  Type.Object(
    Object.fromEntries(producerFields(rules).map(([k, r]) => [k, r.optional || optional.has(k) ? Type.Optional(jsonSchemaOf(r)) : jsonSchemaOf(r)])),
    { additionalProperties: false },
  );

/** Payload fields the HTTP write path fills itself when absent (besides PAYLOAD_DEFAULTS). */
const FILLED_BY_GATEWAY: Partial<Record<EventType, readonly string[]>> = { memory_stored: ['memoryId'] };

/**
 * JSON shape of each event type's `data` (what POST /v1/events accepts), derived
 * from the contract's PAYLOAD_RULES: a field may be left out when it has a
 * default (PAYLOAD_DEFAULTS), is optional in the model, or the gateway fills it.
 */
export const DATA_SCHEMAS = {} as Record<EventType, TSchema>;
for (const t of EVENT_TYPES) {
  const optional = new Set([...Object.keys(PAYLOAD_DEFAULTS[t]), ...(FILLED_BY_GATEWAY[t] ?? [])]);
  DATA_SCHEMAS[t] = objectSchemaOf(PAYLOAD_RULES[t] as Record<string, Rule>, optional);
}

export const EventInSchema = Type.Object({
  agentId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
  type: Type.Union(EVENT_TYPES.map((v) => Type.Literal(v)), {
    description: `the event type; ${[...SYSTEM_EVENT_TYPES].join(' and ')} are farmbrain's own (the lifecycle scheduler, operators) and are refused here`,
  }),
  data: Obj,
  eventId: Type.Optional(Type.String({ description: 'UUIDv7; generated when absent. Reuse it to retry safely.' })),
  producerSeq: Type.Optional(Type.Integer({ minimum: 1, description: 'Strictly increasing per agent; a hybrid clock when absent.' })),
  occurredAt: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.String({ format: 'date-time' })])),
  correlationId: Type.Optional(Type.String({ maxLength: 128 })),
  causationId: Type.Optional(Type.String({ maxLength: 128 })),
});

export const EventsBodySchema = Type.Object({ events: Type.Array(EventInSchema, { minItems: 1 }) });

type EventIn = {
  agentId: string; type: EventType; data: Record<string, unknown>; eventId?: string; producerSeq?: number;
  occurredAt?: number | string; correlationId?: string; causationId?: string;
};


export interface IndexedIssue extends ValidationIssue {
  index: number;
}

/** A request whose events are not all valid; nothing of it was published. */
export class EventsRejectedError extends FarmbrainError {
  constructor(readonly issues: IndexedIssue[]) {
    super('INVALID_EVENT', `${new Set(issues.map((i) => i.index)).size} event(s) are invalid; nothing was published: ${issues.slice(0, 5).map((i) => `events[${i.index}].${i.field}: ${i.message}`).join('; ')}`);
    this.name = 'EventsRejectedError';
  }
}

export interface Accepted {
  eventId: string;
  agentId: string;
  producerSeq: number;
  streamSeq: number;
  duplicate: boolean;
}

/**
 * The HTTP write path: the same validation as the SDK and ingest, then the same
 * ingress stream. All events of a request are checked before any is published.
 */
export class EventWriter {
  readonly #seq = new HybridSequence();
  constructor(private readonly js: JetStreamClient, private readonly names: Names, private readonly limits: EventLimits) {}

  toEvents(input: readonly EventIn[], now = Date.now()): FarmEvent[] {
    const issues: IndexedIssue[] = [];
    const out: FarmEvent[] = [];
    input.forEach((e, index) => {
      if (SYSTEM_EVENT_TYPES.has(e.type)) {
        // Moves between tiers and legal holds come from farmbrain's lifecycle scheduler and its operators, over NATS:
        // an agent may not move, delete or hold its own records.
        issues.push({
          index, code: 'INVALID_FIELD', field: 'type',
          message: `${e.type} events are published by farmbrain itself (the lifecycle scheduler and operators), never by agents: an agent cannot move, delete or hold its own records`,
        });
        return;
      }
      const schema = DATA_SCHEMAS[e.type];
      const shapeErrors = [...Value.Errors(schema, e.data)];
      if (shapeErrors.length > 0) {
        // One issue per field: a union of literals reports each literal; say "one of" instead.
        const byPath = new Map<string, { allowed: unknown[]; messages: Set<string> }>();
        for (const err of shapeErrors) {
          if (err.keyword === 'boolean' || err.keyword === 'anyOf') continue;
          const g = byPath.get(err.instancePath) ?? { allowed: [], messages: new Set<string>() };
          if (err.keyword === 'const') g.allowed.push((err.params as { allowedValue?: unknown }).allowedValue);
          else g.messages.add(err.message);
          byPath.set(err.instancePath, g);
        }
        for (const [path, g] of [...byPath].slice(0, 10)) {
          const field = `data${path.replace(/\//g, '.')}`;
          const message = g.allowed.length > 0 ? `${field} must be one of ${g.allowed.join(', ')}` : `${field} ${[...g.messages].join('; ')}`;
          issues.push({ index, code: 'INVALID_FIELD', field, message });
        }
        return;
      }
      const data = { ...e.data };
      if (e.type === 'checkpoint_saved') data.state = new Uint8Array(Buffer.from(String(e.data.state), 'base64'));
      if (e.type === 'memory_stored' && !data.memoryId) data.memoryId = newEventId();
      // A time that is not one (NaN) or out of range is validateEvent's to report, as for any field.
      const ev: FarmEvent = buildEnvelope({ ...e, data: data as EnvelopeInput['data'], occurredAt: instantMs(e.occurredAt) }, { seq: this.#seq, now: () => now });
      const found = validateEvent(ev, { limits: this.limits, now, encodedBytes: encodeEvent(ev).byteLength });
      if (found.length > 0) issues.push(...found.map((i) => ({ ...i, index })));
      else out.push(ev);
    });
    if (issues.length > 0) throw new EventsRejectedError(issues);
    return out;
  }

  /** Publishes each agent's events, in request order, as one ingress message per agent. */
  async publish(events: readonly FarmEvent[]): Promise<Accepted[]> {
    const byAgent = new Map<string, FarmEvent[]>();
    for (const e of events) {
      const l = byAgent.get(e.agentId) ?? [];
      l.push(e);
      byAgent.set(e.agentId, l);
    }
    const acks = new Map<string, { seq: number; duplicate: boolean }>();
    try {
      await Promise.all([...byAgent].map(async ([agentId, evs]) => {
        // Messages within DEFAULT_BATCH_LIMITS (below NATS' max_payload), one after another to keep order.
        for (const batch of batchesOf(evs.map((event) => ({ event, bytes: encodeEvent(event) })))) {
          const { body, msgId } = batchMessage(batch);
          const ack = await this.js.publish(this.names.ingressSubject(agentId), body, { msgID: msgId });
          for (const { event } of batch) acks.set(event.eventId, { seq: ack.seq, duplicate: ack.duplicate });
        }
      }));
    } catch (err) {
      const what = `JetStream did not acknowledge the events (${(err as Error).message}); retry with the same eventIds, duplicates are dropped`;
      // NATS unreachable, draining or closed, no answer in time, or nothing listening on the subject: an outage, not this request's fault.
      if (isConnectionFailure(err)) throw new DependencyUnavailableError('nats', what, { cause: err });
      throw new FarmbrainError('PUBLISH_FAILED', what, { cause: err });
    }
    return events.map((e) => ({ eventId: e.eventId, agentId: e.agentId, producerSeq: e.producerSeq, streamSeq: acks.get(e.eventId)!.seq, duplicate: acks.get(e.eventId)!.duplicate }));
  }
}
