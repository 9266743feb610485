import { newEventId } from '@farmbrain/contracts/browser';
import type { PendingWrite, RememberInput } from './types.js';

/**
 * A remembered memory as a queued write: its event id (UUIDv7) and memory id are made here, once,
 * and kept with it until the gateway acknowledges it, so every resend is the same event.
 */
export function pendingWrite(agentId: string, input: RememberInput, now: number): PendingWrite {
  return {
    eventId: newEventId(),
    memoryId: newEventId(),
    agentId,
    kind: input.kind ?? 'observation',
    text: input.text,
    ...(input.tags !== undefined ? { tags: [...input.tags] } : {}),
    ...(input.importance !== undefined ? { importance: input.importance } : {}),
    queuedAt: now,
    attempts: 0,
  };
}

/**
 * The POST /v1/events body of a queued write: one memory_stored event with its fixed ids and time.
 * The gateway fills producerSeq (its hybrid clock) and the payload's defaults. One event per
 * request, so the ingress message id is the event id itself (JetStream drops a resend inside its
 * duplicate window) and a refusal is about this write only.
 */
export const eventsBody = (w: PendingWrite) => ({
  events: [{
    agentId: w.agentId,
    type: 'memory_stored' as const,
    eventId: w.eventId,
    occurredAt: w.queuedAt,
    data: {
      memoryId: w.memoryId,
      kind: w.kind,
      text: w.text,
      ...(w.tags !== undefined ? { tags: w.tags } : {}),
      ...(w.importance !== undefined ? { importance: w.importance } : {}),
    },
  }],
});

/** What POST /v1/events answers (202). */
export interface AcceptedBody {
  accepted: { eventId: string; agentId: string; producerSeq: number; streamSeq: number; duplicate: boolean }[];
}
