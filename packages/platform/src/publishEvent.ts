import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { batchMessage, encodeEvent, type FarmEvent, type Names } from '@farmbrain/contracts';

/**
 * Publishes one event to the ingress stream, alone in its message, with its
 * event id as Nats-Msg-Id: what farmbrain's own components publish (an
 * erasure, an alert) goes through ingest like any write, and publishing the
 * same event again (a retry, a second instance) is dropped by JetStream in its
 * duplicate window, then by the projections' claims on the event id.
 */
export async function publishEvent(js: JetStreamClient, names: Pick<Names, 'ingressSubject'>, event: FarmEvent): Promise<PubAck> {
  const { body, msgId } = batchMessage([{ event, bytes: encodeEvent(event) }]);
  return js.publish(names.ingressSubject(event.agentId), body, { msgID: msgId });
}
