import { headers as natsHeaders } from '@nats-io/nats-core';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { HEADERS, type EventLimits, type Names, type ScopePolicy } from '@farmbrain/contracts';
import type { Logger } from '@farmbrain/platform';
import { triage } from './triage.js';

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

/** A reason as a header value: one line, no control characters, bounded. */
// eslint-disable-next-line no-control-regex
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 2000);

/**
 * The canonical subject of an ingress message: same partition token, same
 * agent token. For a valid message that is `names.eventsSubject(agentId)`; for
 * one whose subject names the wrong partition it keeps the ingress partition,
 * where a consistency token of that write waits.
 */
function canonicalSubject(names: Names, ingressSubject: string): string {
  const t = ingressSubject.split('.');
  return `${names.namespace}.ev.${t[t.length - 2]}.${t[t.length - 1]}`;
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
      const t = triage({
        subject: m.subject,
        data: m.data,
        storedAt: Math.floor(Number(m.info.timestampNanos) / 1e6),
        partitions: names.partitions,
        limits,
        scopes,
      });
      const trace = m.headers?.get(HEADERS.traceparent);
      // Every ingress message leaves a canonical message: its valid events, and a mark of how many
      // were rejected. A message rejected whole leaves an empty one. So the projections' ingress
      // watermark passes every message, and a read waiting on a rejected write resolves at once
      // and can say why (the events themselves are in the dead-letter stream).
      if (t.valid || t.rejected.length > 0) {
        const h = natsHeaders();
        h.set(HEADERS.ingressSeq, String(m.seq));
        if (trace) h.set(HEADERS.traceparent, trace);
        if (t.rejected.length > 0) {
          const first = t.rejected[0]!;
          h.set(HEADERS.rejected, String(t.rejected.length));
          h.set(HEADERS.reasonCode, first.code);
          h.set(HEADERS.reason, oneLine(first.reason));
        }
        pubs.push(js.publish(canonicalSubject(names, m.subject), t.valid?.body ?? new Uint8Array(), { msgID: `in:${m.seq}`, headers: h }));
        stats.forwardedEvents += t.valid?.events.length ?? 0;
      }
      for (const r of t.rejected) {
        const h = natsHeaders();
        h.set(HEADERS.reasonCode, r.code);
        h.set(HEADERS.reason, oneLine(r.reason));
        h.set(HEADERS.eventId, r.eventId || '-');
        h.set(HEADERS.originalSubject, m.subject);
        h.set(HEADERS.ingressSeq, String(m.seq));
        pubs.push(js.publish(names.deadLetterSubject(t.agentId), r.body, { msgID: `dlq:${m.seq}:${r.index}`, headers: h }));
        stats.deadLettered += 1;
        log.debug({ agentId: t.agentId, code: r.code, reason: r.reason, ingressSeq: m.seq }, 'dead-lettered');
      }
      stats.messages += 1;
    }
    await Promise.all(pubs);
  };
}
