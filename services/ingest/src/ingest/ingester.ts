import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { agentOfSubject, HEADERS, type EventLimits, type Names, type ScopePolicy } from '@farmbrain/contracts';
import type { Logger } from '@farmbrain/platform';
import { triage, type Triage } from './triage.js';

export interface IngesterDeps {
  js: JetStreamClient;
  names: Names;
  limits: EventLimits;
  scopes: ScopePolicy;
  log: Logger;
}

export interface IngestStats {
  messages: number;
  forwardedEvents: number;
  deadLettered: number;
}

/**
 * Any text as a header value: one line, no control characters, bounded. Header
 * values come from what producers sent (event ids, reasons quoting their data),
 * and NATS refuses a header value holding CR or LF.
 */
// eslint-disable-next-line no-control-regex
const headerValue = (s: string, max = 2000) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, max);

interface Output {
  kind: 'canonical' | 'dlq';
  subject: string;
  body: Uint8Array;
  msgID: string;
  headers: MsgHdrs;
  /** Events forwarded (canonical). */
  events: number;
}

/**
 * What one ingress message leads to (pure): its canonical message (the valid
 * events, and a mark of how many were rejected; a message rejected whole leaves
 * an empty one, so the projections' ingress watermark passes every message and a
 * read waiting on a rejected write resolves at once and can say why), and one
 * dead letter per rejected event.
 */
function outputsOf(m: JsMsg, names: Names, t: Triage): Output[] {
  const out: Output[] = [];
  const trace = m.headers?.get(HEADERS.traceparent);
  if (t.valid || t.rejected.length > 0) {
    const h = natsHeaders();
    h.set(HEADERS.ingressSeq, String(m.seq));
    if (trace) h.set(HEADERS.traceparent, headerValue(trace, 256));
    if (t.rejected.length > 0) {
      const first = t.rejected[0]!;
      h.set(HEADERS.rejected, String(t.rejected.length));
      h.set(HEADERS.reasonCode, first.code);
      h.set(HEADERS.reason, headerValue(first.reason));
    }
    out.push({ kind: 'canonical', subject: names.canonicalOf(m.subject), body: t.valid?.body ?? new Uint8Array(), msgID: `in:${m.seq}`, headers: h, events: t.valid?.events.length ?? 0 });
  }
  for (const r of t.rejected) {
    const h = natsHeaders();
    h.set(HEADERS.reasonCode, r.code);
    h.set(HEADERS.reason, headerValue(r.reason));
    h.set(HEADERS.eventId, headerValue(r.eventId, 128) || '-');
    h.set(HEADERS.originalSubject, headerValue(m.subject, 512));
    h.set(HEADERS.ingressSeq, String(m.seq));
    out.push({ kind: 'dlq', subject: names.deadLetterSubject(t.agentId), body: r.body, msgID: `dlq:${m.seq}:${r.index}`, headers: h, events: 0 });
  }
  return out;
}

/**
 * Returns the batch handler of one ingress partition. Every output is published
 * with a message id derived from the ingress sequence, so a redelivered message
 * (after a crash before the ack) is deduplicated by JetStream.
 */
export function createIngestHandler({ js, names, limits, scopes, log }: IngesterDeps, stats: IngestStats) {
  return async (msgs: readonly JsMsg[]): Promise<void> => {
    const pubs: Promise<unknown>[] = [];
    for (const m of msgs) {
      // Everything a message leads to is built before anything is published. Building it never fails the
      // batch: a message that cannot be processed (whatever it holds) is dead-lettered whole, with its
      // mark on the canonical stream, so one hostile message can never stall its partition.
      let outs: Output[];
      try {
        outs = outputsOf(m, names, triage({
          subject: m.subject,
          data: m.data,
          storedAt: Math.floor(Number(m.info.timestampNanos) / 1e6),
          partitions: names.partitions,
          limits,
          scopes,
        }));
      } catch (err) {
        log.warn({ err, ingressSeq: m.seq }, 'ingress message could not be processed; dead-lettered whole');
        outs = outputsOf(m, names, {
          agentId: agentOfSubject(m.subject),
          valid: undefined,
          rejected: [{ index: 0, eventId: '', code: 'DECODE_ERROR', reason: `the message could not be processed (${(err as Error)?.message ?? String(err)})`, body: m.data }],
        });
      }
      for (const o of outs) {
        pubs.push(js.publish(o.subject, o.body, { msgID: o.msgID, headers: o.headers }));
        if (o.kind === 'canonical') stats.forwardedEvents += o.events;
        else {
          stats.deadLettered += 1;
          log.debug({ subject: o.subject, ingressSeq: m.seq }, 'dead-lettered');
        }
      }
      stats.messages += 1;
    }
    await Promise.all(pubs);
  };
}
