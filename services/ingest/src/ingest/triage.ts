import {
  agentOfSubject,
  decodeBatch,
  DecodeError,
  describeIssues,
  encodeBatch,
  encodeRawEvent,
  partitionOf,
  validateEvent,
  writeDenial,
  EMPTY_SCOPE_POLICY,
  type EventLimits,
  type ScopePolicy,
  type FarmEvent,
  type ReasonCode,
} from '@farmbrain/contracts';

/** What ingest does with one ingress message: forward the valid events, dead-letter the rest. */
export interface Triage {
  agentId: string;
  /** Body for the canonical stream ('' events = nothing to forward). */
  valid: { events: FarmEvent[]; body: Uint8Array } | undefined;
  rejected: Rejection[];
}

export interface Rejection {
  /** Position in the ingress message, for a stable dead-letter message id. */
  index: number;
  eventId: string;
  code: ReasonCode;
  reason: string;
  /** The event as it came (or the whole body when it did not decode). */
  body: Uint8Array;
}

export interface TriageInput {
  subject: string;
  data: Uint8Array;
  /** When JetStream stored the message, epoch ms: the clock events are checked against. */
  storedAt: number;
  partitions: number;
  limits: EventLimits;
  /** Who may write shared memories; absent = nobody (agent scope only). */
  scopes?: ScopePolicy;
  /** An import (HEADERS.imported): the events may be older than the past-skew limit; every other rule holds. */
  imported?: boolean;
}

/** Pure: decides the fate of every event of one ingress message. */
export function triage(m: TriageInput): Triage {
  const agentId = agentOfSubject(m.subject);
  const tokens = m.subject.split('.');
  const subjectPartition = Number(tokens[tokens.length - 2]);
  if (subjectPartition !== partitionOf(agentId, m.partitions)) {
    return {
      agentId,
      valid: undefined,
      rejected: [{
        index: 0,
        eventId: '',
        code: 'AGENT_MISMATCH',
        reason: `subject partition ${tokens[tokens.length - 2]} is not agent '${agentId}''s partition ${partitionOf(agentId, m.partitions)} ` +
          `of this deployment's ${m.partitions}: the publisher most likely computes partitions with another count than the deployment's ` +
          `FB_PARTITIONS = ${m.partitions}; create the SDK agent with partitions: ${m.partitions}, or publish to partitionOf(agentId, ${m.partitions})`,
        body: m.data,
      }],
    };
  }
  let entries;
  try {
    entries = decodeBatch(m.data);
  } catch (err) {
    const reason = err instanceof DecodeError ? err.message : String(err);
    return { agentId, valid: undefined, rejected: [{ index: 0, eventId: '', code: 'DECODE_ERROR', reason, body: m.data }] };
  }
  if (entries.length === 0) {
    return { agentId, valid: undefined, rejected: [{ index: 0, eventId: '', code: 'DECODE_ERROR', reason: 'message holds no events', body: m.data }] };
  }
  const good: FarmEvent[] = [];
  const rejected: Rejection[] = [];
  entries.forEach((entry, index) => {
    const eventId = entry.raw.eventId ?? '';
    if (!entry.event) {
      rejected.push({ index, eventId, code: 'DECODE_ERROR', reason: entry.error?.message ?? 'undecodable event', body: encodeRawEvent(entry.raw) });
      return;
    }
    // Size is only computed for payloads that can be large.
    const sized = entry.event.type === 'checkpoint_saved' || entry.event.type.startsWith('memory') || entry.event.type === 'decision_made';
    const issues = validateEvent(entry.event, {
      limits: m.imported ? { ...m.limits, maxPastSkewMs: Number.POSITIVE_INFINITY } : m.limits,
      now: m.storedAt,
      subjectAgentId: agentId,
      ...(sized ? { encodedBytes: encodeRawEvent(entry.raw).byteLength } : {}),
    });
    // Governance of shared memory: only configured writers may store into a team or fleet scope.
    const ev = entry.event;
    if (issues.length === 0 && ev.type === 'memory_stored' && ev.data.scope !== 'agent') {
      const denial = writeDenial(m.scopes ?? EMPTY_SCOPE_POLICY, ev.agentId, ev.data.scope, ev.data.scopeId);
      if (denial) issues.push({ code: 'SCOPE_FORBIDDEN', field: 'data.scope', message: denial });
    }
    if (issues.length === 0) good.push(entry.event);
    else rejected.push({ index, eventId, code: issues[0]!.code, reason: describeIssues(issues), body: encodeRawEvent(entry.raw) });
  });
  if (good.length === 0) return { agentId, valid: undefined, rejected };
  // Forward the original bytes untouched when every event passed.
  const body = rejected.length === 0 ? m.data : encodeBatch(good);
  return { agentId, valid: { events: good, body }, rejected };
}
