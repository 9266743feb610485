import { encodeBatch, hasContent, sealEvent, type FarmEvent, type SealableEvent } from '@farmbrain/contracts';
import type { MemoryKeys } from '@farmbrain/platform';

const sealable = (e: FarmEvent): e is SealableEvent => (e.type === 'memory_stored' || e.type === 'memory_updated') && hasContent(e);

/**
 * Crypto-shredding at the door: the text and embedding of every memory event
 * are encrypted with the memory's own key (created on first use) before the
 * canonical message is published, so no copy of the log holds them in the
 * clear. A message without memory content goes through byte for byte.
 */
export const memorySealer = (keys: MemoryKeys) => async (events: readonly FarmEvent[], body: Uint8Array): Promise<Uint8Array> => {
  const todo = events.filter(sealable);
  if (todo.length === 0) return body;
  const k = await keys.getOrCreate(todo.map((e) => e.data.memoryId));
  return encodeBatch(events.map((e) => (sealable(e) ? sealEvent(e, k.get(e.data.memoryId)!) : e)));
};
