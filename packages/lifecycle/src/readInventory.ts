import type { Pool, PoolClient } from '@farmbrain/platform';
import { DEFAULT_COMPRESSION_RATIO, type Inventory, type LegalHold, type MemoryUsage, type StoredTier } from './inventory.js';
import { DAY_KINDS, type AgePolicy, type DayKind, type LifecyclePolicy } from './policy.js';
import { DAY_MS, utcDay } from './planner.js';

export interface ReadInventoryOptions {
  /** These agents only (the ones of the partitions a scheduler owns); all agents when left out. */
  agents?: readonly string[];
  now: number;
  policy: LifecyclePolicy;
}

const TABLE: Record<DayKind, string> = { decision: 'decisions', trade: 'trades', recall: 'recalls' };
const ID_COLUMN: Record<DayKind, string> = { decision: 'event_id', trade: 'event_id', recall: 'recall_id' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY_OF = (col: string) => `(floor(extract(epoch FROM ${col}) / 86400) * ${DAY_MS})::bigint`;

/**
 * The first instant NOT older than `days` whole days at `now`, day-aligned:
 * records before it sit in days the policy may move (see dayOlderThan).
 */
export const cutoffOf = (days: number, now: number): number => utcDay(now - (days + 1) * DAY_MS) + DAY_MS;

const youngest = (...ages: (number | null)[]): number | null => {
  const set = ages.filter((a): a is number => a !== null);
  return set.length > 0 ? Math.min(...set) : null;
};

/**
 * Where the records of some agents are, as of `now`, for planMoves: one
 * read-only snapshot (REPEATABLE READ), so every part is of the same moment.
 *
 * Cheap on big tables: warm rows are read only in days older than the kind's
 * youngest age (through the (agent_id, occurred_at) indexes), so in steady
 * state it reads about one day of rows, the ones about to move; cold blocks only
 * in days a colder age may have reached; checkpoints whole (retention keeps few).
 */
export async function readInventory(pool: Pool, o: ReadInventoryOptions): Promise<Inventory> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const inv = await read(c, o);
    await c.query('COMMIT');
    return inv;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

async function read(c: PoolClient, { agents: only, now, policy }: ReadInventoryOptions): Promise<Inventory> {
  const agents = only ? [...only] : (await c.query<{ agent_id: string }>('SELECT agent_id FROM agents')).rows.map((r) => r.agent_id);
  const inv: Inventory = { days: [], checkpoints: [], memories: [], holds: [], compressionRatio: DEFAULT_COMPRESSION_RATIO, notes: [] };
  if (agents.length === 0) return inv;

  inv.holds = (await c.query<LegalHold>('SELECT agent_id AS "agentId", record_id AS "recordId" FROM legal_holds WHERE agent_id = ANY($1)', [agents])).rows;
  const heldIds = inv.holds.filter((h) => h.recordId !== '' && UUID.test(h.recordId)).map((h) => h.recordId.toLowerCase());
  const isHeld = new Set(inv.holds.map((h) => `${h.agentId}/${h.recordId.toLowerCase()}`));
  const held = new Map<string, number>();
  const countHeld = (agentId: string, kind: DayKind, dayMs: number, tier: StoredTier, id: string) => {
    if (!isHeld.has(`${agentId}/${id.toLowerCase()}`)) return;
    const key = `${agentId}|${kind}|${dayMs}|${tier}`;
    held.set(key, (held.get(key) ?? 0) + 1);
  };

  // ---- warm rows, by agent, kind and UTC day ----
  for (const kind of DAY_KINDS) {
    const p: AgePolicy = policy[kind];
    const days = youngest(p.coldAfterDays, p.archiveAfterDays, p.deleteAfterDays);
    if (days === null) continue;
    const cutoff = new Date(cutoffOf(days, now)).toISOString();
    const r = await c.query<{ agent_id: string; day_ms: string; records: number; last_seq: string; bytes: string }>(
      `SELECT agent_id, ${DAY_OF('occurred_at')} AS day_ms, count(*)::int AS records,
              max(stream_seq)::bigint AS last_seq, sum(pg_column_size(t.*))::bigint AS bytes
         FROM ${TABLE[kind]} t
        WHERE agent_id = ANY($1) AND occurred_at < $2::timestamptz
        GROUP BY 1, 2`,
      [agents, cutoff],
    );
    for (const x of r.rows) inv.days.push({ agentId: x.agent_id, kind, dayMs: Number(x.day_ms), tier: 'warm', records: x.records, lastSeq: Number(x.last_seq), bytes: Number(x.bytes), heldRecords: 0 });
    if (heldIds.length > 0) {
      const h = await c.query<{ agent_id: string; id: string; day_ms: string }>(
        `SELECT agent_id, ${ID_COLUMN[kind]}::text AS id, ${DAY_OF('occurred_at')} AS day_ms FROM ${TABLE[kind]}
          WHERE ${ID_COLUMN[kind]} = ANY($1::uuid[]) AND occurred_at < $2::timestamptz`,
        [heldIds, cutoff],
      );
      for (const x of h.rows) countHeld(x.agent_id, kind, Number(x.day_ms), 'warm', x.id);
    }
  }

  // ---- cold and archive blocks, in days a colder age may have reached ----
  const scopes: { kind: DayKind; tier: StoredTier; before: string }[] = [];
  for (const kind of DAY_KINDS) {
    const p = policy[kind];
    const forCold = youngest(p.archiveAfterDays, p.deleteAfterDays);
    if (forCold !== null) scopes.push({ kind, tier: 'cold', before: new Date(cutoffOf(forCold, now)).toISOString().slice(0, 10) });
    if (p.deleteAfterDays !== null) scopes.push({ kind, tier: 'archive', before: new Date(cutoffOf(p.deleteAfterDays, now)).toISOString().slice(0, 10) });
  }
  if (scopes.length > 0) {
    const args = [agents, scopes.map((s) => s.kind), scopes.map((s) => s.tier), scopes.map((s) => s.before)];
    const scope = `FROM cold_blocks b JOIN unnest($2::text[], $3::text[], $4::date[]) AS s(kind, tier, before)
                     ON b.kind = s.kind AND b.tier = s.tier AND b.day < s.before
                  WHERE b.agent_id = ANY($1)`;
    const r = await c.query<{ agent_id: string; kind: DayKind; day_ms: string; tier: StoredTier; records: number; last_seq: string | null; bytes: string }>(
      `SELECT b.agent_id, b.kind, (extract(epoch FROM b.day::timestamp) * 1000)::bigint AS day_ms, b.tier,
              sum(b.records)::int AS records, max((SELECT max(x) FROM unnest(b.stream_seqs) x))::bigint AS last_seq,
              sum(b.stored_bytes)::bigint AS bytes
         ${scope}
        GROUP BY 1, 2, 3, 4`,
      args,
    );
    for (const x of r.rows) inv.days.push({ agentId: x.agent_id, kind: x.kind, dayMs: Number(x.day_ms), tier: x.tier, records: x.records, lastSeq: Number(x.last_seq ?? 0), bytes: Number(x.bytes), heldRecords: 0 });
    if (heldIds.length > 0) {
      const h = await heldInBlocks(c, args, heldIds);
      for (const x of h.rows) countHeld(x.agent_id, x.kind, Number(x.day_ms), x.tier, x.id);
    }
  }
  for (const d of inv.days) d.heldRecords = held.get(`${d.agentId}|${d.kind}|${d.dayMs}|${d.tier}`) ?? 0;

  // ---- checkpoints, each (retention keeps the last N and one a day) ----
  const cp = await c.query<{ agent_id: string; id: string; at: string; seq: string; bytes: number }>(
    `SELECT agent_id, event_id::text AS id, (extract(epoch FROM occurred_at) * 1000)::bigint AS at, stream_seq AS seq,
            size_bytes + length(label) + 64 AS bytes
       FROM checkpoints WHERE agent_id = ANY($1)`,
    [agents],
  );
  for (const x of cp.rows) inv.checkpoints.push({ agentId: x.agent_id, eventId: x.id, occurredAt: Number(x.at), tier: 'warm', streamSeq: Number(x.seq), bytes: x.bytes });
  const cb = await c.query<{ agent_id: string; id: string; tier: StoredTier; seq: string; first_at: string; last_at: string; bytes: string }>(
    `SELECT b.agent_id, e.id::text AS id, b.tier, e.seq,
            (extract(epoch FROM b.first_at) * 1000)::bigint AS first_at, (extract(epoch FROM b.last_at) * 1000)::bigint AS last_at,
            (b.stored_bytes / greatest(b.records, 1))::bigint AS bytes
       FROM cold_blocks b CROSS JOIN LATERAL unnest(b.event_ids, b.stream_seqs) AS e(id, seq)
      WHERE b.agent_id = ANY($1) AND b.kind = 'checkpoint' AND b.tier IN ('cold', 'archive')`,
    [agents],
  );
  for (const x of cb.rows) {
    // A block keeps ids, not times: a UUIDv7 id carries its producer's clock, kept within the block's span.
    const at = Math.min(Number(x.last_at), Math.max(Number(x.first_at), uuidV7Ms(x.id) ?? Number(x.last_at)));
    inv.checkpoints.push({ agentId: x.agent_id, eventId: x.id, occurredAt: at, tier: x.tier, streamSeq: Number(x.seq), bytes: Number(x.bytes) });
  }

  // ---- memories: promotion by recent recalls, demotion of idle hot ones ----
  inv.memories = await readMemoryUsage(c, agents, policy, now, inv.notes);

  const ratio = await c.query<{ ratio: number | null }>(
    'SELECT sum(stored_bytes)::float8 / nullif(sum(warm_bytes), 0) AS ratio FROM (SELECT stored_bytes, warm_bytes FROM cold_blocks WHERE warm_bytes > 0 LIMIT 1000) s',
  );
  const measured = ratio.rows[0]?.ratio;
  if (measured && Number.isFinite(measured) && measured > 0) inv.compressionRatio = measured;
  return inv;
}

/** Held records in the blocks of the scopes (the GIN index on event_ids finds their blocks). */
async function heldInBlocks(c: PoolClient, args: unknown[], heldIds: string[]) {
  return c.query<{ agent_id: string; kind: DayKind; day_ms: string; tier: StoredTier; id: string }>(
    `SELECT b.agent_id, b.kind, (extract(epoch FROM b.day::timestamp) * 1000)::bigint AS day_ms, b.tier, e.id::text AS id
       FROM cold_blocks b
       JOIN unnest($2::text[], $3::text[], $4::date[]) AS s(kind, tier, before) ON b.kind = s.kind AND b.tier = s.tier AND b.day < s.before
       CROSS JOIN LATERAL unnest(b.event_ids) AS e(id)
      WHERE b.agent_id = ANY($1) AND b.event_ids && $5::uuid[] AND e.id = ANY($5::uuid[])`,
    [...args, heldIds],
  );
}

/** The time (epoch ms) a UUIDv7 carries, or undefined for another id. */
export function uuidV7Ms(id: string): number | undefined {
  if (!UUID.test(id) || id[14] !== '7') return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * Memory usage for promotion (recalls in the window, from the recalls of every
 * agent: team and fleet memories are recalled by others) and demotion (hot
 * memories). Needs the memories' tier (memories.tier, kept by tiering when it
 * applies memory moves); without that column it returns none and says so.
 */
async function readMemoryUsage(c: PoolClient, agents: string[], policy: LifecyclePolicy, now: number, notes: string[]): Promise<MemoryUsage[]> {
  const col = await c.query(
    `SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'memories' AND column_name = 'tier'`,
  );
  if (col.rowCount === 0) {
    notes.push('memory tiers are not tracked in this schema (no memories.tier column): no memory promotion or demotion planned');
    return [];
  }
  const p = policy.memory;
  const since = new Date(now - p.promoteWindowMinutes * 60_000).toISOString();
  const r = await c.query<{ agent_id: string; memory_id: string; tier: string; importance: number; n: number; last: string | null }>(
    `WITH acc AS (
       SELECT h->>'memoryId' AS memory_id, count(*)::int AS n
         FROM recalls r CROSS JOIN LATERAL jsonb_array_elements(r.hits) h
        WHERE $4::boolean AND r.agent_id = ANY(ARRAY(SELECT agent_id FROM agents)) AND r.occurred_at > $2::timestamptz AND r.occurred_at <= $3::timestamptz
        GROUP BY 1)
     SELECT m.agent_id, m.memory_id, m.tier, m.importance, coalesce(acc.n, 0) AS n,
            (extract(epoch FROM m.last_accessed_at) * 1000)::bigint AS last
       FROM memories m LEFT JOIN acc ON acc.memory_id = m.memory_id
      WHERE m.agent_id = ANY($1) AND m.forgotten_at IS NULL AND (acc.n IS NOT NULL OR m.tier = 'hot')`,
    [agents, since, new Date(now).toISOString(), p.promoteAccesses > 0],
  );
  return r.rows
    .filter((x) => x.tier === 'hot' || x.tier === 'warm')
    .map((x) => ({ agentId: x.agent_id, memoryId: x.memory_id, tier: x.tier as 'hot' | 'warm', importance: x.importance, accessesInWindow: x.n, lastAccessedAt: x.last === null ? null : Number(x.last) }));
}

