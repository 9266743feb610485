import { headers as natsHeaders } from '@nats-io/nats-core';
import type { JetStreamClient } from '@nats-io/jetstream';
import { batchesOf, batchMessage, encodeEvent, HEADERS, partitionOf, SYSTEM_EVENT_TYPES, type Names } from '@farmbrain/contracts';
import type { AgentFile } from './agentFile.js';

export interface ImportResult {
  agentId: string;
  partition: number;
  /** Events published to the target's ingress, in the file's order. */
  published: number;
  /** Lifecycle events (tier moves, legal holds) of the source: the target's own policies apply instead. */
  skippedSystem: number;
  /** The ingress stream sequence of the last message: reads wait for it (consistency token). */
  lastIngressSeq: number;
  /** Messages JetStream recognised as already received (an import run twice). */
  duplicates: number;
}

/**
 * Replays an agent file into a deployment: every event of the agent, with its
 * own id, in the file's (log) order, through the target's ingress, so ingest
 * checks each one and every projection builds the agent's stores as the
 * source's were built. Event ids make a second import of the same file apply
 * nothing twice. Marked as an import: events older than the past-skew limit pass.
 */
export async function importAgent({ js, names }: { js: JetStreamClient; names: Names }, file: AgentFile): Promise<ImportResult> {
  const agentId = file.header.agentId;
  const events = file.events.filter((e) => !SYSTEM_EVENT_TYPES.has(e.type));
  const result: ImportResult = {
    agentId, partition: partitionOf(agentId, names.partitions), published: 0, skippedSystem: file.events.length - events.length, lastIngressSeq: 0, duplicates: 0,
  };
  const h = natsHeaders();
  h.set(HEADERS.imported, '1');
  // In order, one message after another: the agent's order on the log is the file's.
  for (const batch of batchesOf(events.map((event) => ({ event, bytes: encodeEvent(event) })))) {
    const { body, msgId } = batchMessage(batch);
    const ack = await js.publish(names.ingressSubject(agentId), body, { msgID: msgId, headers: h });
    result.published += batch.length;
    result.lastIngressSeq = ack.seq;
    if (ack.duplicate) result.duplicates++;
  }
  return result;
}
