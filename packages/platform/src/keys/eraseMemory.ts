import type { JetStreamClient } from '@nats-io/jetstream';
import { buildEnvelope, HybridSequence, partitionOf, type Names } from '@farmbrain/contracts';
import { publishEvent } from '../publishEvent.js';
import type { MemoryKeys } from './memoryKeys.js';

export interface EraseRequest {
  agentId: string;
  memoryId: string;
  reason: string;
  /** Who erases (kept in the erasure log). */
  operator: string;
}

export interface Erased {
  /** The memory_erased event (its id is the erasure's). */
  eventId: string;
  partition: number;
  /** Where it landed on the ingress stream: reads carrying it (a consistency token) see the erasure applied. */
  ingressSeq: number;
  /** Whether a key was there to destroy (false: erased before, or never sealed). */
  keyDestroyed: boolean;
}

/**
 * Erases a memory: destroys its key first (from then on no copy of the log, the
 * archive's segments and any backup of them included, can be read for it), then
 * puts `memory_erased` on the log, which removes its content from every store
 * and records the erasure (who, when, why; never the content). Running it again
 * is safe: the key is gone, and the event applies once.
 */
export async function eraseMemory({ js, names, keys }: { js: JetStreamClient; names: Names; keys: MemoryKeys }, r: EraseRequest, now = Date.now()): Promise<Erased> {
  const keyDestroyed = await keys.destroy(r.memoryId);
  const e = buildEnvelope({ agentId: r.agentId, type: 'memory_erased', data: { memoryId: r.memoryId, reason: r.reason, operator: r.operator } }, { seq: new HybridSequence(), now: () => now });
  const ack = await publishEvent(js, names, e);
  return { eventId: e.eventId, partition: partitionOf(r.agentId, names.partitions), ingressSeq: ack.seq, keyDestroyed };
}
