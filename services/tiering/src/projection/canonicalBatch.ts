import type { JsMsg } from '@nats-io/jetstream';
import { agentOfSubject, decodeBatch, encodeRawEvent, HEADERS, type FarmEvent } from '@farmbrain/contracts';
import type { DeadLetter } from './deadLetters.js';

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
  /** Every event, in log order, duplicates included. */
  events: SeqEvent[];
  /** Messages or entries that did not decode, or events unfit to key on: dead letters (the caller keeps those above its checkpoint). */
  unfit: DeadLetter[];
  rejections: RejectedWrite[];
  /** Messages that replay a projection dead letter: the dead letter's id, by stream sequence. */
  replays: { streamSeq: number; deadLetterId: number; eventIds: string[] }[];
  lastSeq: number;
  /** The highest ingress sequence the batch covers: what read-your-writes tokens wait for. */
  ingressSeq: number;
}

/** Decodes canonical messages (pure). Nothing in them can throw: what does not decode comes back as a dead letter. */
export function decodeCanonical(msgs: readonly Pick<JsMsg, 'seq' | 'data' | 'subject' | 'headers'>[], partition: number): CanonicalBatch {
  const out: CanonicalBatch = { events: [], unfit: [], rejections: [], replays: [], lastSeq: msgs[msgs.length - 1]?.seq ?? 0, ingressSeq: 0 };
  for (const m of msgs) {
    const agentId = agentOfSubject(m.subject);
    const ingressSeq = Number(m.headers?.get(HEADERS.ingressSeq) ?? 0) || 0;
    out.ingressSeq = Math.max(out.ingressSeq, ingressSeq);
    const dead = (body: Uint8Array, reason: string, eventId?: string) =>
      out.unfit.push({ partition, streamSeq: m.seq, agentId, eventType: '', code: 'DECODE_ERROR', reason, body, ...(eventId ? { eventId } : {}) });
    let accepted = 0;
    try {
      for (const entry of decodeBatch(m.data)) {
        const e = entry.event;
        // The canonical log holds what ingest validated; anything published around ingest is checked for
        // what this projection keys on (the event id, the agent of the subject) and dead-lettered if unfit.
        if (e && (!UUID.test(e.eventId) || e.agentId !== agentId)) {
          out.unfit.push({
            partition, streamSeq: m.seq, agentId, eventType: e.type, code: 'INVALID_EVENT', body: encodeRawEvent(entry.raw),
            reason: !UUID.test(e.eventId) ? `eventId '${e.eventId.slice(0, 64)}' is not a UUID` : `agentId '${e.agentId.slice(0, 64)}' is not the subject's agent '${agentId}'`,
            ...(validUuid(e.eventId) ? { eventId: e.eventId } : {}),
          });
        } else if (e) {
          // One spelling of an id (a UUID is case-insensitive; Postgres returns it in lower case), so
          // every comparison by event id, here and against what Postgres returns, sees the same event.
          out.events.push({ ...e, eventId: e.eventId.toLowerCase(), streamSeq: m.seq });
          accepted++;
        } else dead(encodeRawEvent(entry.raw), entry.error?.message ?? 'undecodable event', validUuid(entry.raw.eventId));
      }
    } catch (err) {
      dead(m.data, `message is not a protobuf EventBatch: ${(err as Error).message}`);
    }
    const replayOf = Number(m.headers?.get(HEADERS.replayOf) ?? 0);
    if (Number.isSafeInteger(replayOf) && replayOf > 0) {
      out.replays.push({ streamSeq: m.seq, deadLetterId: replayOf, eventIds: out.events.filter((e) => e.streamSeq === m.seq).map((e) => e.eventId) });
    }
    const rejected = Number(m.headers?.get(HEADERS.rejected) ?? 0) || 0;
    if (rejected > 0) {
      out.rejections.push({
        streamSeq: m.seq, ingressSeq, agentId, rejected, accepted,
        code: m.headers?.get(HEADERS.reasonCode) || 'REJECTED', reason: m.headers?.get(HEADERS.reason) || '',
      });
    }
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
