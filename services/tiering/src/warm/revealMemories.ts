import { unsealEvent, type SealableEvent } from '@farmbrain/contracts';
import type { MemoryKeys } from '@farmbrain/platform';
import type { SeqEvent } from '@farmbrain/projection';

const isSealed = (e: SeqEvent): e is SeqEvent & SealableEvent => (e.type === 'memory_stored' || e.type === 'memory_updated') && e.data.sealed !== undefined;

/**
 * The batch's memory events with their content opened (ingest sealed it with
 * each memory's key). A memory whose key was destroyed (erased) opens as
 * erased: a rebuild after an erasure projects it erased, like the live store.
 */
export async function revealMemories(keys: MemoryKeys, events: readonly SeqEvent[]): Promise<SeqEvent[]> {
  const sealed = events.filter(isSealed);
  if (sealed.length === 0) return [...events];
  const k = await keys.get(sealed.map((e) => e.data.memoryId));
  return events.map((e) => (isSealed(e) ? { ...unsealEvent(e, k.get(e.data.memoryId)), streamSeq: e.streamSeq } : e));
}
