import { checkField } from './checkField.js';
import { EVENT_TYPES, type EventType, type FarmEvent } from './events.js';
import { ENVELOPE_RULES, PAYLOAD_RULES, type Rule } from './fieldRules.js';
import { printable } from './textRule.js';
import type { EventLimits } from './limits.js';
import type { ValidationIssue } from './issues.js';

export { REASON_CODES, describeIssues } from './issues.js';
export type { ReasonCode, ValidationIssue } from './issues.js';
export { defaultEventLimits } from './limits.js';
export type { EventLimits } from './limits.js';

export interface ValidationContext {
  limits: EventLimits;
  /** Reference time, epoch ms: for ingest, when JetStream stored the message (stable on redelivery). */
  now: number;
  /** Agent id taken from the subject, when the event came over NATS. */
  subjectAgentId?: string;
  /** Encoded size of the event, when known. */
  encodedBytes?: number;
  /** The event is read from the canonical log (projections): fields farmbrain writes itself (`internal`) are expected there, refused from producers. */
  fromLog?: boolean;
}

interface Field {
  key: string;
  rule: Rule;
  /** Dotted path, as issues name it. */
  path: string;
}
const fieldsOf = (rules: Record<string, Rule>, prefix: string): Field[] =>
  Object.entries(rules).map(([key, rule]) => ({ key, rule, path: `${prefix}${key}` }));
const ENVELOPE_FIELDS = fieldsOf(ENVELOPE_RULES as Record<string, Rule>, '');
const PAYLOAD_FIELDS = Object.fromEntries(
  Object.entries(PAYLOAD_RULES).map(([type, rules]) => [type, fieldsOf(rules as Record<string, Rule>, 'data.')]),
) as Record<EventType, Field[]>;

/**
 * Everything that makes an event unfit for the canonical log. Pure and
 * deterministic for a given context, so a redelivered message gets the same verdict.
 * Returns [] when the event is valid, and then the event is storable everywhere
 * downstream. Never throws, whatever it is given.
 *
 * Each field is checked by its rule in FIELD_RULES (envelope first, then the
 * payload, in table order), at most one issue per field; then the few rules that
 * span fields: the subject's agent, the clock skew of occurredAt, the encoded
 * size, and the scope/scopeId pairing of memory_stored.
 */
export function validateEvent(e: FarmEvent, ctx: ValidationContext): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const L = ctx.limits;
  const ev = e as unknown as Record<string, unknown>;
  if (ev === null || typeof ev !== 'object') return [{ code: 'MISSING_FIELD', field: '', message: 'the event must be an object' }];
  let badPaths: Set<string> | undefined;
  const bad = { has: (p: string) => badPaths?.has(p) ?? false };
  // The hot path (a valid event) allocates nothing per field: keys, rules and paths are precomputed.
  const walk = (fields: readonly Field[], obj: Record<string, unknown>) => {
    for (const f of fields) {
      if (f.rule.kind === 'bytes' && f.rule.internal && !ctx.fromLog && obj[f.key] !== undefined) {
        out.push({ code: 'INVALID_FIELD', field: f.path, message: `${f.path} is written by ingest (it encrypts memory content with the memory's own key); send the text and embedding in the clear` });
        (badPaths ??= new Set()).add(f.path);
        continue;
      }
      const found = checkField(obj[f.key], f.rule, f.path, L);
      if (found) {
        out.push(found);
        (badPaths ??= new Set()).add(f.path);
      }
    }
  };

  walk(ENVELOPE_FIELDS, ev);
  const type: unknown = ev.type;
  const rules = typeof type === 'string' && Object.hasOwn(PAYLOAD_FIELDS, type) ? PAYLOAD_FIELDS[type as EventType] : undefined;
  const data = ev.data as Record<string, unknown> | null | undefined;
  let payloadChecked = false;
  if (!rules) {
    out.push(typeof type === 'string' && type !== ''
      ? { code: 'INVALID_FIELD', field: 'type', message: `type '${printable(type, 32)}' is not an event type; use one of ${EVENT_TYPES.join(', ')}` }
      : { code: 'MISSING_FIELD', field: 'type', message: `type is required (one of ${EVENT_TYPES.join(', ')})` });
  } else if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    out.push({ code: 'MISSING_FIELD', field: 'data', message: `data (the ${type} payload) is required, as an object` });
  } else {
    walk(rules, data);
    payloadChecked = true;
  }

  // Rules that span fields, each only when the fields it reads passed on their own.
  if (!bad.has('agentId') && ctx.subjectAgentId !== undefined && ctx.subjectAgentId !== e.agentId) {
    out.push({ code: 'AGENT_MISMATCH', field: 'agentId', message: `agentId '${e.agentId}' does not match the subject's agent '${printable(ctx.subjectAgentId)}'` });
  }
  if (!bad.has('occurredAt')) {
    if (e.occurredAt - ctx.now > L.maxFutureSkewMs) {
      out.push({ code: 'CLOCK_SKEW', field: 'occurredAt', message: `occurredAt is ${e.occurredAt - ctx.now} ms in the future; at most ${L.maxFutureSkewMs} ms is allowed: check the agent's clock` });
    } else if (ctx.now - e.occurredAt > L.maxPastSkewMs) {
      out.push({ code: 'CLOCK_SKEW', field: 'occurredAt', message: `occurredAt is ${ctx.now - e.occurredAt} ms in the past; at most ${L.maxPastSkewMs} ms is allowed` });
    }
  }
  if (ctx.encodedBytes !== undefined && ctx.encodedBytes > L.maxEventBytes) {
    out.push({ code: 'TOO_LARGE', field: '', message: `event is ${ctx.encodedBytes} bytes encoded; the limit is ${L.maxEventBytes}` });
  }
  if (payloadChecked && e.type === 'memory_stored' && !bad.has('data.scope') && !bad.has('data.scopeId')) {
    if (e.data.scope === 'team' && e.data.scopeId === '') out.push({ code: 'MISSING_FIELD', field: 'data.scopeId', message: 'data.scopeId (the team) is required for team scope' });
    if (e.data.scope !== 'team' && e.data.scopeId !== '') out.push({ code: 'INVALID_FIELD', field: 'data.scopeId', message: 'data.scopeId is only used with team scope; leave it empty' });
  }
  return out;
}
