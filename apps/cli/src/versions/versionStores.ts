/**
 * What a projection version owns outside the registry, and how `drop` deletes
 * it: its durables (one per partition), its Postgres schema, its Redis keys.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Redis } from 'ioredis';
import { consumerGroup, type Names } from '@farmbrain/contracts';
import { isNotFound, quoteIdent, type Pool } from '@farmbrain/platform';
import type { ProjectionVersion } from '@farmbrain/projection';
import { hotKeyPatterns } from '@farmbrain/store';

export async function deleteDurables(jsm: JetStreamManager, n: Names, v: ProjectionVersion): Promise<number> {
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

export async function dropSchema(pool: Pool, v: ProjectionVersion): Promise<void> {
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
