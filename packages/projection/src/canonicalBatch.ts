import type { JsMsg } from '@nats-io/jetstream';
import { agentOfSubject, decodeBatch, describeIssues, encodeRawEvent, HEADERS, validateEvent, type EventLimits, type FarmEvent } from '@farmbrain/contracts';
import type { DeadLetter } from './deadLetters.js';

/**
 * A canonical message as the kit applies it: what JetStream delivers (a JsMsg
 * is one), or the same fields read back from the archive (a rebuild replays
 * the archive before the stream).
 */
export type CanonicalMessage = Pick<JsMsg, 'seq' | 'subject' | 'data' | 'headers'>;

/** An event with the canonical stream sequence of the message that carried it. */
export type SeqEvent = FarmEvent & { streamSeq: number };

/** An ingress message ingest rejected in whole or in part, as marked on its canonical message. */
export interface RejectedWrite {
  streamSeq: number;
  ingressSeq: number;
  agentId: string;
  rejected: number;
  accepted: number;
  code: string;
  reason: string;
}

/** A batch of canonical messages, decoded. */
export interface CanonicalBatch {
  /** The messages themselves, in stream order, as they came (a projection such as the archive stores them verbatim). */
  messages: readonly CanonicalMessage[];
  /** Every event, in log order, duplicates included. */
  events: SeqEvent[];
  /** Messages or entries that did not decode, or events unfit to key on: dead letters (the caller keeps those above its checkpoint). */
  unfit: DeadLetter[];
  rejections: RejectedWrite[];
  /** Messages that replay a projection dead letter: the dead letter's id, by stream sequence. */
  replays: { streamSeq: number; deadLetterId: number; eventIds: string[] }[];
  /** The ingress sequence of each message (by stream sequence), when ingest stamped one. */
  ingressOf: Map<number, number>;
  lastSeq: number;
  /** The highest ingress sequence the batch covers: what read-your-writes tokens wait for. */
  ingressSeq: number;
}

/** A header holding a count or a sequence: a non-negative integer up to `max`, else 0 (garbage is ignored, never stored). */
const headerInt = (v: string | undefined, max = Number.MAX_SAFE_INTEGER): number => {
  const n = v !== undefined && /^\d{1,16}$/.test(v) ? Number(v) : 0;
  return n <= max ? n : 0;
};
/** Counts are stored as Postgres integers. */
const COUNT_MAX = 2 ** 31 - 1;

/**
 * Decodes canonical messages (pure). Nothing in them can throw: what does not
 * decode, and every event that breaks the contract (the same rules ingest
 * applies, the clock aside: the log is replayed long after it was written), comes
 * back as a dead letter. The canonical log holds what ingest validated, but
 * anything can be published around ingest, and a projection must never stall on it.
 */
export function decodeCanonical(msgs: readonly CanonicalMessage[], partition: number, limits: EventLimits): CanonicalBatch {
  const anyTime: EventLimits = { ...limits, maxFutureSkewMs: Number.POSITIVE_INFINITY, maxPastSkewMs: Number.POSITIVE_INFINITY };
  const out = rawBatch(msgs);
  for (const m of msgs) {
    const agentId = agentOfSubject(m.subject);
    const ingressSeq = out.ingressOf.get(m.seq) ?? 0;
    const dead = (body: Uint8Array, reason: string, eventId?: string) =>
      out.unfit.push({ partition, streamSeq: m.seq, ingressSeq, agentId, eventType: '', code: 'DECODE_ERROR', reason, body, ...(eventId ? { eventId } : {}) });
    let accepted = 0;
    try {
      for (const entry of decodeBatch(m.data)) {
        const e = entry.event;
        const issues = e ? validateEvent(e, { limits: anyTime, now: e.occurredAt, subjectAgentId: agentId, fromLog: true }) : [];
        if (e && issues.length > 0) {
          out.unfit.push({
            partition, streamSeq: m.seq, ingressSeq, agentId, eventType: e.type, code: 'INVALID_EVENT', body: encodeRawEvent(entry.raw),
            reason: describeIssues(issues), ...(validUuid(e.eventId) ? { eventId: e.eventId.toLowerCase() } : {}),
          });
        } else if (e) {
          // One spelling of an id (a UUID is case-insensitive; Postgres returns it in lower case), so
          // every comparison by event id, here and against what Postgres returns, sees the same event.
          out.events.push({ ...e, eventId: e.eventId.toLowerCase(), streamSeq: m.seq });
          accepted++;
        } else dead(encodeRawEvent(entry.raw), entry.error?.message ?? 'undecodable event', validUuid(entry.raw.eventId)?.toLowerCase());
      }
    } catch (err) {
      dead(m.data, `message is not a protobuf EventBatch: ${(err as Error).message}`);
    }
    const replayOf = headerInt(m.headers?.get(HEADERS.replayOf), COUNT_MAX);
    if (replayOf > 0) {
      out.replays.push({ streamSeq: m.seq, deadLetterId: replayOf, eventIds: out.events.filter((e) => e.streamSeq === m.seq).map((e) => e.eventId) });
    }
    const rejected = headerInt(m.headers?.get(HEADERS.rejected), COUNT_MAX);
    if (rejected > 0) {
      out.rejections.push({
        streamSeq: m.seq, ingressSeq, agentId, rejected, accepted,
        code: m.headers?.get(HEADERS.reasonCode) || 'REJECTED', reason: m.headers?.get(HEADERS.reason) || '',
      });
    }
  }
  return out;
}

/**
 * A batch of messages not decoded (for projections of the messages themselves,
 * such as the archive): no events, only the messages, their ingress sequences
 * and the last stream sequence.
 */
export function rawBatch(msgs: readonly CanonicalMessage[]): CanonicalBatch {
  const out: CanonicalBatch = { messages: msgs, events: [], unfit: [], rejections: [], replays: [], ingressOf: new Map(), lastSeq: msgs[msgs.length - 1]?.seq ?? 0, ingressSeq: 0 };
  for (const m of msgs) {
    const ingressSeq = headerInt(m.headers?.get(HEADERS.ingressSeq));
    out.ingressSeq = Math.max(out.ingressSeq, ingressSeq);
    if (ingressSeq > 0) out.ingressOf.set(m.seq, ingressSeq);
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const validUuid = (s: string | null | undefined): string | undefined => (s && UUID.test(s) ? s : undefined);

/** The first copy of each event id, in order: a batch applies an event once however often it carries it. */
export function firstOfEach<E extends { eventId: string }>(events: readonly E[]): E[] {
  const seen = new Set<string>();
  return events.filter((e) => (seen.has(e.eventId) ? false : (seen.add(e.eventId), true)));
}
