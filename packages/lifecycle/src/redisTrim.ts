import type { Redis } from 'ioredis';
import type { Pool } from '@farmbrain/platform';
import { ERASED_MEMDOC, hotKeys, memdocKey } from '@farmbrain/store';

/** Why a key goes. */
export type TrimReason = 'idle agent' | 'forgotten memory' | 'expired memory' | 'superseded version' | 'unknown memory' | 'no expiry';

export interface TrimKey {
  key: string;
  why: TrimReason;
  bytes: number;
}

/** What the Redis trim removes: hot copies of idle agents (all their keys at once) and recalled-memory cache entries no recall can use. */
export interface RedisTrimPlan {
  idleMinutes: number;
  /** Agents whose hot copy goes, each with its keys (removed together: a copy is whole or absent). */
  agents: { agentId: string; keys: string[]; present: number; bytes: number }[];
  memdocs: TrimKey[];
  /** What is trimmed, bytes (MEMORY USAGE). */
  bytes: number;
  /** Every key under the hot prefix the plan looked at (agent copies and memdocs), bytes. */
  hotBytes: number;
}

const CHUNK = 200;

/**
 * Plans the Redis trim, as of `now`:
 *
 * - the hot copy of every agent whose last event is older than `idleMinutes`
 *   (the memory policy's hotIdleMinutes): the gateway reads such an agent from
 *   Postgres, and tiering writes the whole copy again at its next event (a copy
 *   it finds missing is rebuilt, never patched), so removing one is as safe as
 *   Redis losing it;
 * - recalled-memory cache entries (`memdoc:`) that no recall can serve: of a
 *   memory forgotten, expired or gone, of an older version than the memory's
 *   (recall checks the version), or without a TTL (the gateway always sets one).
 *   An erasure's tombstone (ERASED_MEMDOC) is never trimmed.
 */
export async function planRedisTrim(pool: Pool, redis: Redis, prefix: string, o: { now: number; idleMinutes: number; agents?: readonly string[] }): Promise<RedisTrimPlan> {
  const plan: RedisTrimPlan = { idleMinutes: o.idleMinutes, agents: [], memdocs: [], bytes: 0, hotBytes: 0 };
  // ---- hot copies of idle agents ----
  const all = await pool.query<{ agent_id: string; idle: boolean }>(
    `SELECT agent_id, last_event_at < to_timestamp($1 / 1000.0) AS idle FROM agents WHERE ($2::text[] IS NULL OR agent_id = ANY($2)) ORDER BY agent_id`,
    [o.now - o.idleMinutes * 60_000, o.agents ? [...o.agents] : null],
  );
  const per = hotKeys(prefix, '').length;
  for (let i = 0; i < all.rows.length; i += CHUNK) {
    const chunk = all.rows.slice(i, i + CHUNK);
    const p = redis.pipeline();
    for (const a of chunk) for (const k of hotKeys(prefix, a.agent_id)) p.memory('USAGE', k);
    const res = (await p.exec()) ?? [];
    chunk.forEach((a, j) => {
      const keys = hotKeys(prefix, a.agent_id);
      let bytes = 0;
      const present: string[] = [];
      keys.forEach((k, x) => {
        const b = Number(res[j * per + x]?.[1] ?? 0);
        if (b > 0) present.push(k);
        bytes += b;
      });
      plan.hotBytes += bytes;
      if (a.idle && present.length > 0) plan.agents.push({ agentId: a.agent_id, keys: [...keys], present: present.length, bytes });
    });
  }
  // ---- recalled-memory cache ----
  let cursor = '0';
  const base = memdocKey(prefix, '');
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${base}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const p = redis.pipeline();
    for (const k of keys) p.get(k).pttl(k).memory('USAGE', k);
    const res = (await p.exec()) ?? [];
    const seen = keys.map((key, i) => {
      const raw = res[i * 3]?.[1] as string | null;
      let version: number | undefined;
      try {
        const v = raw ? (JSON.parse(raw) as { version?: unknown }).version : undefined;
        if (typeof v === 'number') version = v;
      } catch {
        version = undefined;
      }
      // An erasure's tombstone stays (it keeps a racing recall from caching the content again).
      return { key, memoryId: key.slice(base.length), version, ttl: Number(res[i * 3 + 1]?.[1] ?? -2), bytes: Number(res[i * 3 + 2]?.[1] ?? 0), present: raw !== null, tombstone: raw === ERASED_MEMDOC };
    }).filter((x) => x.present);
    const rows = await pool.query<{ memory_id: string; version: number; forgotten: boolean; expired: boolean }>(
      `SELECT memory_id, version, forgotten_at IS NOT NULL AS forgotten, coalesce(expires_at <= to_timestamp($2 / 1000.0), false) AS expired
         FROM memories WHERE memory_id = ANY($1)`,
      [seen.map((x) => x.memoryId), o.now],
    );
    const byId = new Map(rows.rows.map((r) => [r.memory_id, r]));
    for (const x of seen) {
      plan.hotBytes += x.bytes;
      if (x.tombstone) continue;
      const m = byId.get(x.memoryId);
      const why: TrimReason | undefined = !m ? 'unknown memory' : m.forgotten ? 'forgotten memory' : m.expired ? 'expired memory'
        : x.version === undefined || x.version < m.version ? 'superseded version' : x.ttl === -1 ? 'no expiry' : undefined;
      if (why) plan.memdocs.push({ key: x.key, why, bytes: x.bytes });
    }
  } while (cursor !== '0');
  plan.memdocs.sort((a, b) => (a.key < b.key ? -1 : 1));
  plan.bytes = plan.agents.reduce((n, a) => n + a.bytes, 0) + plan.memdocs.reduce((n, m) => n + m.bytes, 0);
  return plan;
}

/** Removes what the plan names: each agent's copy in one DEL (all its keys at once), the cache entries in batches. Returns keys removed. */
export async function applyRedisTrim(redis: Redis, plan: RedisTrimPlan): Promise<number> {
  let removed = 0;
  for (let i = 0; i < plan.agents.length; i += CHUNK) {
    const p = redis.pipeline();
    for (const a of plan.agents.slice(i, i + CHUNK)) p.del(...a.keys);
    for (const [err, n] of (await p.exec()) ?? []) if (!err) removed += Number(n);
  }
  for (let i = 0; i < plan.memdocs.length; i += 1000) {
    removed += await redis.del(...plan.memdocs.slice(i, i + 1000).map((m) => m.key));
  }
  return removed;
}

/** Bytes of the hot prefix's agent copies and cache entries now (what the trim is measured against). */
export async function hotBytes(pool: Pool, redis: Redis, prefix: string): Promise<number> {
  return (await planRedisTrim(pool, redis, prefix, { now: 0, idleMinutes: 0 })).hotBytes;
}

/**
 * Waits (bounded) until Redis reflects every partition's checkpoint: tiering
 * writes the hot copies of a batch (moves rebuild the copies of the agents they
 * touch) after its commit, so a trim right after a move is applied could be
 * undone by that write. Resolves false when the bound passes first.
 */
export async function waitHotThrough(pool: Pool, redis: Redis, prefix: string, projection: string, timeoutMs = 10_000): Promise<boolean> {
  const cps = (await pool.query<{ partition: number; last_seq: string }>('SELECT partition, last_seq FROM projection_checkpoints WHERE projection = $1', [projection])).rows;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const marks = cps.length > 0 ? await redis.mget(cps.map((c) => `${prefix}hot:through:${c.partition}`)) : [];
    if (cps.every((c, i) => Number(marks[i] ?? 0) >= Number(c.last_seq))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
