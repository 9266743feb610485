/**
 * What a projection version owns outside the registry, and how `drop` deletes
 * it: its durables (one per partition), its Postgres schema, its Redis keys.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Redis } from 'ioredis';
import { consumerGroup, LEASE_KEYS, type Names } from '@farmbrain/contracts';
import { isNotFound, quoteIdent, type Pool } from '@farmbrain/platform';
import type { ProjectionVersion } from '@farmbrain/projection';
import { hotKeyPatterns } from '@farmbrain/store';

/**
 * Waits until no instance applies the projection `group` any more (none of its lease or member keys is left in
 * the lease bucket: an instance that stopped hands them back, one that was killed leaves them until the lease
 * TTL); past `timeoutMs`, throws what `busy(held)` gives (held: the keys still there).
 */
export async function waitLeasesReleased(nc: NatsConnection, n: Names, group: string, timeoutMs: number, busy: (held: number) => Error): Promise<void> {
  const kv = await new Kvm(nc).open(n.leaseBucket).catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held: string[] = [];
    if (kv) for await (const k of await kv.keys(LEASE_KEYS.all(group))) held.push(k);
    if (held.length === 0) return;
    if (Date.now() > deadline) throw busy(held.length);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Deletes the version's durables (one per partition) and says how many there were. */
export async function deleteDurables(jsm: JetStreamManager, n: Names, v: Pick<ProjectionVersion, 'name'>): Promise<number> {
  const group = consumerGroup(v.name);
  let deleted = 0;
  for (let p = 0; p < n.partitions; p++) {
    try {
      await jsm.consumers.delete(n.eventsStream, n.durable(group, p));
      deleted++;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return deleted;
}

export async function dropSchema(pool: Pool, v: Pick<ProjectionVersion, 'schema'>): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(v.schema)} CASCADE`);
}

/** Deletes the version's hot state key by key pattern (never by bare prefix: a later version's prefix extends the first's). */
export async function deleteHotKeys(redis: Redis, v: ProjectionVersion): Promise<number> {
  let deleted = 0;
  for (const match of hotKeyPatterns(v.redisPrefix)) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}
