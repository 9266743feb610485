import { SealError, unsealEvent, type SealableEvent } from '@farmbrain/contracts';
import type { Logger, MemoryKeys } from '@farmbrain/platform';
import type { SeqEvent } from '@farmbrain/projection';

const isSealed = (e: SeqEvent): e is SeqEvent & SealableEvent => (e.type === 'memory_stored' || e.type === 'memory_updated') && e.data.sealed !== undefined;

/**
 * The batch's memory events with their content opened (ingest sealed it with
 * each memory's key). A memory whose key was destroyed (erased) opens as
 * erased: a rebuild after an erasure projects it erased, like the live store.
 */
export async function revealMemories(keys: MemoryKeys, events: readonly SeqEvent[], log?: Logger): Promise<SeqEvent[]> {
  const sealed = events.filter(isSealed);
  if (sealed.length === 0) return [...events];
  const k = await keys.get(sealed.map((e) => e.data.memoryId));
  return events.map((e) => {
    if (!isSealed(e)) return e;
    try {
      return { ...unsealEvent(e, k.get(e.data.memoryId)), streamSeq: e.streamSeq };
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      // Content its key does not open (the key bucket was lost and a new key made, or the bytes were damaged): it
      // can never open, so it is projected as erased rather than stalling the partition; said loudly.
      log?.error({ eventId: e.eventId, memoryId: e.data.memoryId, err: err.message }, 'memory content cannot be opened with its key: projected as erased (restore the memory keys from a backup, then rebuild)');
      return { ...unsealEvent(e, undefined), streamSeq: e.streamSeq };
    }
  });
}
