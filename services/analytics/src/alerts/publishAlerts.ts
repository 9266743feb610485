import type { JetStreamClient } from '@nats-io/jetstream';
import { buildEnvelope, HybridSequence, type Names } from '@farmbrain/contracts';
import { publishEvent } from '@farmbrain/platform';
import type { AlertTransition } from '@farmbrain/analytics';

const seq = new HybridSequence();

/**
 * Publishes alert transitions to the ingress stream like any event (ingest
 * validates them by the contract), one a message with the event's derived id
 * as Nats-Msg-Id: a transition published again (a retry, a second evaluator)
 * is dropped by JetStream in its duplicate window, and after that applied
 * once by analytics, which keys alerts by id. In order; rejects at the first
 * message JetStream does not acknowledge (those before stay published).
 * Returns how many JetStream already had.
 */
export async function publishAlerts(js: JetStreamClient, names: Names, transitions: readonly AlertTransition[]): Promise<{ published: number; duplicates: number }> {
  let duplicates = 0;
  for (const t of transitions) {
    const event = buildEnvelope({ agentId: t.agentId, type: 'alert_changed', eventId: t.eventId, occurredAt: t.occurredAt, data: t.data }, { seq, now: () => t.occurredAt });
    const ack = await publishEvent(js, names, event);
    if (ack.duplicate) duplicates++;
  }
  return { published: transitions.length, duplicates };
}
