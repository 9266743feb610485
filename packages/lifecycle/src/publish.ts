import type { JetStreamClient } from '@nats-io/jetstream';
import {
  batchesOf,
  DEFAULT_BATCH_LIMITS,
  batchMessage,
  buildEnvelope,
  encodeConsistencyToken,
  encodeEvent,
  HybridSequence,
  partitionOf,
  type EventOf,
  type Names,
} from '@farmbrain/contracts';
import type { PlannedMove } from './planner.js';

const ONE_A_MESSAGE = { ...DEFAULT_BATCH_LIMITS, maxEvents: 1 };

/** Where one move landed on the ingress stream. */
export interface PublishedMove {
  eventId: string;
  agentId: string;
  partition: number;
  /** Ingress stream sequence (of the message that carried it, or of the copy already there). */
  streamSeq: number;
  /** JetStream had the message already (another scheduler, or a retry, published it). */
  duplicate: boolean;
}

export interface PublishResult {
  published: PublishedMove[];
  /** A consistency token covering every move: a read carrying it sees them applied. Undefined when nothing was published. */
  consistencyToken: string | undefined;
}

export interface PublishOptions {
  /** How many agents publish at once (each agent's messages go one after another, in plan order). */
  concurrency?: number;
  /** The producer sequence source (default: a hybrid clock, as the SDK and the gateway use). */
  seq?: { next(): number };
}

/** Each records_moved event of a plan, as it goes on the log: the move's deterministic id, occurredAt = when it was decided. */
export function moveEvents(moves: readonly PlannedMove[], seq: { next(): number } = new HybridSequence()): EventOf<'records_moved'>[] {
  return moves.map((m) => buildEnvelope({ agentId: m.agentId, type: 'records_moved', eventId: m.eventId, occurredAt: m.occurredAt, data: m.data }, { seq, now: () => m.occurredAt }));
}

/**
 * Publishes moves to the ingress stream like any event: each agent's in plan
 * order, one move a message with the move's id as Nats-Msg-Id, so a move
 * published again (a retry, another scheduler, a plan grouped otherwise) is
 * dropped by JetStream within its duplicate window, and after it applied once
 * by tiering, which claims event ids. ingest validates them by the contract
 * like any event. Rejects when JetStream does not acknowledge a message: what
 * was acknowledged stays published, and publishing the same plan again is safe.
 */
export async function publishMoves(js: JetStreamClient, names: Names, moves: readonly PlannedMove[], o: PublishOptions = {}): Promise<PublishResult> {
  const events = moveEvents(moves, o.seq);
  const byAgent = new Map<string, EventOf<'records_moved'>[]>();
  for (const e of events) byAgent.set(e.agentId, [...(byAgent.get(e.agentId) ?? []), e]);
  const acks = new Map<string, PublishedMove>();
  const queue = [...byAgent];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [agentId, evs] = next;
      const partition = partitionOf(agentId, names.partitions);
      // One move a message: its Nats-Msg-Id is the move's id, so JetStream drops a copy however the moves are grouped.
      for (const batch of batchesOf(evs.map((event) => ({ event, bytes: encodeEvent(event) })), ONE_A_MESSAGE)) {
        const { body, msgId } = batchMessage(batch);
        const ack = await js.publish(names.ingressSubject(agentId), body, { msgID: msgId });
        for (const { event } of batch) acks.set(event.eventId, { eventId: event.eventId, agentId, partition, streamSeq: ack.seq, duplicate: ack.duplicate });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 16, queue.length)) }, worker));
  const published = events.map((e) => acks.get(e.eventId)!);
  const marks = new Map<number, number>();
  for (const p of published) marks.set(p.partition, Math.max(marks.get(p.partition) ?? 0, p.streamSeq));
  return { published, consistencyToken: marks.size > 0 ? encodeConsistencyToken(marks) : undefined };
}
