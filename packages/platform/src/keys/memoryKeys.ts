import { createHash, randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { openBucket } from '../bucket.js';

/**
 * The memory keys (crypto-shredding, see @farmbrain/contracts seal.ts): one
 * random 256-bit key per memory, in a NATS KV bucket (`<ns>_keys`, one revision
 * kept, no expiry). Ingest creates a memory's key when it first seals its
 * content; projections read it to open the content; erasure purges it, after
 * which no copy of the log can be read for that memory.
 */
export class MemoryKeys {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, bucket: string): Promise<MemoryKeys> {
    return new MemoryKeys(await openBucket(nc, bucket, { history: 1 }));
  }

  /** The KV key of a memory id (any text the contract allows: hashed into the KV key alphabet). */
  static keyOf(memoryId: string): string {
    return `m.${createHash('sha256').update(memoryId).digest('hex')}`;
  }

  /** The memories' keys, created where missing (two creators at once agree: the first create wins, the other reads it). */
  async getOrCreate(memoryIds: readonly string[]): Promise<Map<string, Uint8Array>> {
    const out = await this.get(memoryIds);
    for (const id of new Set(memoryIds)) {
      if (out.has(id)) continue;
      const k = MemoryKeys.keyOf(id);
      try {
        await this.kv.create(k, randomBytes(32));
      } catch (err) {
        if (!/wrong last sequence|exists/i.test(String((err as Error)?.message))) throw err;
      }
      const e = await this.kv.get(k);
      if (!e || e.operation !== 'PUT' || e.value.length !== 32) throw new Error(`memory key of ${id} could not be created`);
      out.set(id, e.value);
    }
    return out;
  }

  /** The keys that exist (an erased memory's is absent). */
  async get(memoryIds: readonly string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    await Promise.all([...new Set(memoryIds)].map(async (id) => {
      const e = await this.kv.get(MemoryKeys.keyOf(id));
      if (e && e.operation === 'PUT' && e.value.length === 32) out.set(id, e.value);
    }));
    return out;
  }

  /** Every key there is, by its KV key (a backup's copy: without them, the log's memory content cannot be opened). */
  async *entries(): AsyncGenerator<[string, Uint8Array]> {
    for await (const k of await this.kv.keys()) {
      const e = await this.kv.get(k);
      if (e && e.operation === 'PUT' && e.value.length === 32) yield [k, e.value];
    }
  }

  /** Puts keys back (a restore): each one absent is created; one present is left as it is. Resolves with how many were created. */
  async restore(entries: Iterable<[string, Uint8Array]>): Promise<number> {
    let created = 0;
    for (const [k, v] of entries) {
      if (!/^m\.[0-9a-f]{64}$/.test(k) || v.length !== 32) continue;
      try {
        await this.kv.create(k, v);
        created++;
      } catch (err) {
        if (!/wrong last sequence|exists/i.test(String((err as Error)?.message))) throw err;
      }
    }
    return created;
  }

  /**
   * Destroys the memory's key, every revision of it (KV purge): nothing sealed
   * under it can be opened again. Resolves with whether there was one.
   */
  async destroy(memoryId: string): Promise<boolean> {
    const k = MemoryKeys.keyOf(memoryId);
    const had = await this.kv.get(k);
    await this.kv.purge(k);
    return Boolean(had && had.operation === 'PUT');
  }
}
