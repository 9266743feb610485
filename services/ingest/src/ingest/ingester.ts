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
      if (t.valid) {
        const h = natsHeaders();
        h.set(HEADERS.ingressSeq, String(m.seq));
        if (trace) h.set(HEADERS.traceparent, trace);
        pubs.push(js.publish(names.eventsSubject(t.agentId), t.valid.body, { msgID: `in:${m.seq}`, headers: h }));
        stats.forwardedEvents += t.valid.events.length;
      }
      for (const r of t.rejected) {
        const h = natsHeaders();
        h.set(HEADERS.reasonCode, r.code);
        h.set(HEADERS.reason, r.reason.replace(/[\r\n]+/g, ' ').slice(0, 2000));
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
