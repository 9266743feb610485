/**
 * Applying the memory lifecycle: `records_moved` takes records of one agent
 * out of a tier and puts them in a colder one, `legal_hold_changed` holds
 * records back from deletion. Both run in the batch's transaction, in log
 * order with the agent's other events, so a rebuild moves the same records at
 * the same point of the log and ends with the same blocks, byte for byte (the
 * codec is deterministic, block ids derive from the move's event id).
 *
 * Tiers: warm (the rows of decisions, trades, checkpoints, recalls) → cold (a
 * block: the rows of one agent, kind and UTC day, compressed, in cold_blocks)
 * → archive (the block's bytes as an immutable object of the archive store;
 * the row keeps ids, stream sequences and sha256) → deleted (a tombstone: ids
 * kept, no bytes anywhere). Memories are not moved: they change after they are
 * stored, and the recall index serves them.
 *
 * A cold → cold move (by day, from `farmbrain optimize`) compacts the day's
 * cold blocks: late rows moved later make blocks of their own, merged here into
 * as few blocks as the block size allows.
 *
 * Moves a block partly (some of its ids, or some held back by a legal hold)
 * cut it in two new blocks, with ids derived from the old block's and the
 * move's: the part that stays, in its tier, and the part that moves. Both
 * keep the history (`moves`) of the block they came from.
 *
 * Archive objects are written before the commit (a crash leaves at most an
 * object the retry writes again, the same bytes: a no-op), and removed only
 * after it (archive_removals, swept by `sweepArchiveRemovals`): a removal
 * cannot be rolled back.
 */
import { applyMemoryMove } from './memoryTier.js';
import { derivedEventId, type EventOf } from '@farmbrain/contracts';
import { DEFAULT_BLOCK_ROWS } from '@farmbrain/lifecycle';
import type { Logger, PoolClient } from '@farmbrain/platform';
import type { SeqEvent } from '@farmbrain/projection';
import {
  BLOCK_CODEC,
  BLOCK_KINDS,
  compareRows,
  decodeBlock,
  encodeBlock,
  sha256Hex,
  WARM_TABLE,
  type BlockKind,
  type BlockRow,
  type EncodedBlock,
  type Queryable,
} from '@farmbrain/store';

/**
 * What tiering needs of the archive's object store: `ArchiveStore` of
 * @farmbrain/archive has it. `put` of a key that exists with the same bytes is
 * a no-op (and is refused with other bytes); `remove` of a missing key is not
 * an error.
 */
export interface BlockObjectStore {
  put(key: string, bytes: Uint8Array): Promise<unknown>;
  get(key: string): Promise<Uint8Array>;
  remove(key: string): Promise<void>;
}

export interface LifecycleOptions {
  /** Where archive-tier blocks go. Without it, a move to the archive tier is dead-lettered NO_ARCHIVE_STORE (replay it once one is configured). */
  store?: BlockObjectStore;
  /** The deployment's namespace: block objects are `<namespace>/blocks/<agentId>/<kind>/<blockId>.blk`. */
  namespace: string;
  /** Most records in one block (a day with more makes several): bounds what one read decodes. Part of the layout: a rebuild must use the same. */
  blockRows?: number;
}

/** Most records in one block: the lifecycle package's constant (its compaction planner counts with it). */
export { DEFAULT_BLOCK_ROWS };

/** What a partition's worker knows about blocks: the kinds it has blocks of (only those can see a late duplicate of a moved event). */
export interface LifecycleState {
  kindsWithBlocks: Set<BlockKind>;
}

/** What applying a lifecycle event needs: the partition, its state and the options. */
export interface LifecycleContext {
  partition: number;
  state: LifecycleState;
  options: LifecycleOptions;
}

export type LifecycleEvent = (EventOf<'records_moved'> | EventOf<'legal_hold_changed'>) & { streamSeq: number };

export const isLifecycleEvent = (e: SeqEvent): e is LifecycleEvent => e.type === 'records_moved' || e.type === 'legal_hold_changed';

/** Why tiering did not apply a lifecycle event (its dead letter's code). */
export const LIFECYCLE_SKIP_CODES = ['UNSUPPORTED_MOVE', 'INVALID_MOVE', 'NO_ARCHIVE_STORE', 'BLOCK_CORRUPT', 'ARCHIVE_CONFLICT'] as const;

/** A lifecycle event tiering did not apply, and why (dead-lettered with this code: replay it after the fix). */
export interface LifecycleSkip {
  event: SeqEvent;
  code: (typeof LIFECYCLE_SKIP_CODES)[number];
  reason: string;
}

export const blockKey = (namespace: string, agentId: string, kind: BlockKind, blockId: string): string =>
  `${namespace}/blocks/${agentId}/${kind}/${blockId}.blk`;

const DAY_MS = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The moves tiering applies: always colder, but cold → cold, which compacts a day's cold blocks (optimize). */
const MOVES = new Set(['warm>cold', 'warm>archive', 'warm>deleted', 'cold>archive', 'cold>deleted', 'archive>deleted', 'cold>cold']);
const isBlockKind = (k: string): k is BlockKind => (BLOCK_KINDS as readonly string[]).includes(k);
const dayOf = (ms: number): string => new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);

/** The partition's lifecycle state, from Postgres (at takeover). */
export async function loadLifecycleState(db: Queryable, partition: number): Promise<LifecycleState> {
  const r = await db.query<{ kind: string }>('SELECT DISTINCT kind FROM cold_blocks WHERE part = $1', [partition]);
  return { kindsWithBlocks: new Set(r.rows.map((x) => x.kind).filter(isBlockKind)) };
}

/**
 * A condition for the inserts of warm rows: the event was not moved to a block
 * already (a duplicate arriving after its record left warm must not bring it
 * back, nor fold a trade into positions again, nor count a recall twice). Empty
 * (no cost) while the partition has no block of that kind. `id` is the SQL of
 * the row's uuid.
 */
export function notMovedSql(state: LifecycleState | undefined, kind: BlockKind, id: string): string {
  return state?.kindsWithBlocks.has(kind) ? `WHERE NOT EXISTS (SELECT 1 FROM cold_blocks b WHERE b.event_ids @> ARRAY[${id}]::uuid[])` : '';
}

/** Applies one lifecycle event; returns why not when it changes nothing on purpose. */
export async function applyLifecycle(c: PoolClient, e: LifecycleEvent, ctx: LifecycleContext): Promise<LifecycleSkip | undefined> {
  if (e.type === 'legal_hold_changed') {
    await applyHold(c, e);
    return undefined;
  }
  return applyMove(c, e, ctx);
}

// ---- legal holds ----

/** Holds by record id; a uuid is kept in lower case, as blocks and rows give ids. */
const holdIdOf = (id: string): string => (UUID.test(id) ? id.toLowerCase() : id);

/**
 * A hold (held) is set or renewed for the agent (no record ids) or for each
 * record named; lifting one without record ids lifts every hold of the agent,
 * with record ids only those records'.
 */
async function applyHold(c: PoolClient, e: EventOf<'legal_hold_changed'>): Promise<void> {
  const ids = [...new Set(e.data.recordIds.map(holdIdOf))];
  if (e.data.held) {
    await c.query(
      `INSERT INTO legal_holds (agent_id, record_id, reason, operator, held_at, event_id)
       SELECT $1, r, $3, $4, to_timestamp($5 / 1000.0), $6 FROM unnest($2::text[]) AS r ORDER BY r
       ON CONFLICT (agent_id, record_id) DO UPDATE SET reason = EXCLUDED.reason, operator = EXCLUDED.operator,
         held_at = EXCLUDED.held_at, event_id = EXCLUDED.event_id`,
      [e.agentId, ids.length > 0 ? ids : [''], e.data.reason, e.data.operator, e.occurredAt, e.eventId],
    );
  } else if (ids.length === 0) {
    await c.query('DELETE FROM legal_holds WHERE agent_id = $1', [e.agentId]);
  } else {
    await c.query('DELETE FROM legal_holds WHERE agent_id = $1 AND record_id = ANY($2::text[])', [e.agentId, ids]);
  }
}

interface Holds {
  agent: boolean;
  ids: ReadonlySet<string>;
}

async function readHolds(c: PoolClient, agentId: string): Promise<Holds> {
  const r = await c.query<{ record_id: string }>('SELECT record_id FROM legal_holds WHERE agent_id = $1', [agentId]);
  const ids = new Set(r.rows.map((x) => x.record_id));
  return { agent: ids.has(''), ids };
}

const NO_HOLDS: Holds = { agent: false, ids: new Set() };
const isHeld = (h: Holds, id: string) => h.agent || h.ids.has(id);

// ---- moves ----

type Move = EventOf<'records_moved'> & { streamSeq: number };

/** A block row as read back (ids as text, day as YYYY-MM-DD). */
interface BlockRowDb {
  block_id: string; agent_id: string; kind: BlockKind; day: string; tier: 'cold' | 'archive' | 'deleted'; records: number;
  first_at: Date; last_at: Date; event_ids: string[]; stream_seqs: number[]; payload: Buffer | null; archive_key: string | null;
  sha256: string; raw_bytes: number; stored_bytes: number; warm_bytes: number; moved_at: Date; moved_by: string;
  policy: string; reason: string; moves: string[];
}

/** A block to insert. */
interface NewBlock {
  id: string;
  day: string;
  tier: 'cold' | 'archive' | 'deleted';
  block: EncodedBlock;
  warmBytes: number;
  /** The last move and the history. */
  moved: { at: number; by: string; policy: string; reason: string };
  moves: string[];
}

/** Everything a move writes, computed (and the objects written) before any of it is. */
interface Plan {
  blocks: NewBlock[];
  /** Old blocks the move retires (cut in two) or changes in place. */
  retire: BlockRowDb[];
  inPlace: { block: BlockRowDb; tier: 'archive' | 'deleted'; archiveKey: string | null }[];
  /** Warm rows to delete (warm moves). */
  warmIds: string[];
  records: number;
  held: number;
  bytesBefore: number;
  bytesAfter: number;
}

const skip = (event: SeqEvent, code: LifecycleSkip['code'], reason: string): LifecycleSkip => ({ event, code, reason });

async function applyMove(c: PoolClient, e: Move, ctx: LifecycleContext): Promise<LifecycleSkip | undefined> {
  const d = e.data;
  // Memories move between warm and hot (their content kept in Redis while they are recalled often): see memoryTier.ts.
  if (d.kind === 'memory') return applyMemoryMove(c, e);
  if (!isBlockKind(d.kind)) {
    return skip(e, 'UNSUPPORTED_MOVE', `${d.kind} records are not moved between tiers; moves apply to ${BLOCK_KINDS.join(', ')} and memories`);
  }
  if (!MOVES.has(`${d.fromTier}>${d.toTier}`)) {
    return skip(e, 'UNSUPPORTED_MOVE', `a move from ${d.fromTier} to ${d.toTier} is not one tiering applies; records only go colder: warm → cold | archive | deleted, cold → archive | deleted, archive → deleted (and cold → cold, by day: compaction of the day's cold blocks)`);
  }
  if (d.dayMs % DAY_MS !== 0) return skip(e, 'INVALID_MOVE', `dayMs ${d.dayMs} is not a UTC midnight (epoch ms divisible by ${DAY_MS})`);
  if (d.dayMs === 0 && d.recordIds.length === 0) return skip(e, 'INVALID_MOVE', 'the move names no records: give dayMs (the UTC midnight of the day) or recordIds');
  const { store, namespace } = ctx.options;
  if (d.toTier === 'archive' && !store) {
    return skip(e, 'NO_ARCHIVE_STORE', 'tiering has no archive store configured, so nothing can move to the archive tier; configure the archive store, then replay this dead letter');
  }
  // Records of these kinds have uuid ids: anything else names no record.
  const ids = [...new Set(d.recordIds.filter((i) => UUID.test(i)).map((i) => i.toLowerCase()))];
  const byIds = d.recordIds.length > 0;
  const holds = d.toTier === 'deleted' ? await readHolds(c, e.agentId) : NO_HOLDS;
  const kind = d.kind;
  const rows = ctx.options.blockRows ?? DEFAULT_BLOCK_ROWS;
  if (d.fromTier === d.toTier && (d.dayMs === 0 || d.recordIds.length > 0)) {
    return skip(e, 'INVALID_MOVE', 'a compaction (cold → cold) names a day (dayMs) and no record ids: it merges every cold block of the agent, kind and day');
  }
  const planned = byIds && ids.length === 0
    ? emptyPlan()
    : d.fromTier === d.toTier
      ? await planCompaction(c, e, kind, rows)
      : d.fromTier === 'warm'
      ? await planFromWarm(c, e, kind, ids, holds, rows)
      : await planFromBlocks(c, e, kind, ids, holds, ctx);
  if ('code' in planned) return planned;

  // Objects first (idempotent: the same bytes under the same key), then the rows.
  for (const b of planned.blocks) {
    if (b.tier !== 'archive') continue;
    const refused = await putObject(e, store!, blockKey(namespace, e.agentId, kind, b.id), b.block.payload);
    if (refused) return refused;
  }
  for (const p of planned.inPlace) {
    if (p.tier !== 'archive') continue;
    const refused = await putObject(e, store!, p.archiveKey!, p.block.payload!);
    if (refused) return refused;
  }

  if (planned.warmIds.length > 0) {
    const { table, id } = WARM_TABLE[kind];
    await c.query(`DELETE FROM ${table} WHERE ${id} = ANY($1::uuid[])`, [planned.warmIds]);
  }
  for (const b of planned.retire) {
    await c.query('DELETE FROM cold_blocks WHERE block_id = $1', [b.block_id]);
    if (b.archive_key) await queueRemoval(c, b, ctx.partition, e.eventId);
  }
  for (const p of planned.inPlace) {
    if (p.tier === 'deleted' && p.block.archive_key) await queueRemoval(c, p.block, ctx.partition, e.eventId);
    await c.query(
      `UPDATE cold_blocks SET tier = $2, payload = NULL, archive_key = $3, stored_bytes = CASE WHEN $2 = 'deleted' THEN 0 ELSE stored_bytes END,
              moved_at = to_timestamp($4 / 1000.0), moved_by = $5, policy = $6, reason = $7, moves = moves || $5::uuid
        WHERE block_id = $1`,
      [p.block.block_id, p.tier, p.archiveKey, e.occurredAt, e.eventId, d.policy, d.reason],
    );
  }
  for (const b of planned.blocks) await insertBlock(c, e, kind, b, ctx.partition, namespace);
  if (planned.blocks.length > 0) ctx.state.kindsWithBlocks.add(kind);
  await c.query(
    `INSERT INTO lifecycle_moves (event_id, agent_id, kind, from_tier, to_tier, day, records, bytes_before, bytes_after, policy, reason,
                                  moved_at, stream_seq, held, block_ids)
     VALUES ($1, $2, $3, $4, $5, $6::date, $7, $8, $9, $10, $11, to_timestamp($12 / 1000.0), $13, $14, $15::uuid[])`,
    [e.eventId, e.agentId, kind, d.fromTier, d.toTier, d.dayMs > 0 ? dayOf(d.dayMs) : null, planned.records, planned.bytesBefore,
      planned.bytesAfter, d.policy, d.reason, e.occurredAt, e.streamSeq, planned.held,
      [...planned.blocks.map((b) => b.id), ...planned.inPlace.map((p) => p.block.block_id)]],
  );
  return undefined;
}

const emptyPlan = (): Plan => ({ blocks: [], retire: [], inPlace: [], warmIds: [], records: 0, held: 0, bytesBefore: 0, bytesAfter: 0 });

const storedBytes = (b: NewBlock): number => (b.tier === 'deleted' ? 0 : b.block.payload.length);

/** Warm → colder: the agent's rows of the kind that day (or those ids), as blocks of one UTC day and at most `blockRows` rows each. */
async function planFromWarm(c: PoolClient, e: Move, kind: BlockKind, ids: string[], holds: Holds, blockRows: number): Promise<Plan> {
  const d = e.data;
  const { table, id } = WARM_TABLE[kind];
  const r = await c.query<BlockRow>(
    `SELECT t.*, pg_column_size(t.*) AS fb_warm_bytes FROM ${table} t
      WHERE t.agent_id = $1
        AND ($2::bigint = 0 OR (t.occurred_at >= to_timestamp($2 / 1000.0) AND t.occurred_at < to_timestamp(($2 + ${DAY_MS}) / 1000.0)))
        AND (cardinality($3::uuid[]) = 0 OR t.${id} = ANY($3::uuid[]))`,
    [e.agentId, d.dayMs, ids],
  );
  const plan = emptyPlan();
  const moving: { row: BlockRow; warm: number }[] = [];
  for (const row of r.rows) {
    const { fb_warm_bytes: warm, ...rest } = row;
    if (isHeld(holds, rest[id] as string)) plan.held++;
    else moving.push({ row: rest, warm: Number(warm) });
  }
  // One UTC day a block, in block order, cut every blockRows rows.
  const byDay = new Map<string, typeof moving>();
  for (const m of moving) {
    const day = dayOf((m.row.occurred_at as Date).getTime());
    const list = byDay.get(day);
    if (list) list.push(m);
    else byDay.set(day, [m]);
  }
  let n = 0;
  for (const day of [...byDay.keys()].sort()) {
    const all = byDay.get(day)!.sort((a, b) => compareRows(kind, a.row, b.row));
    for (let i = 0; i < all.length; i += blockRows) {
      const chunk = all.slice(i, i + blockRows);
      const blockId = n === 0 ? e.eventId : derivedEventId(e.occurredAt, `${e.eventId}/${day}/${i}`);
      n++;
      const b: NewBlock = {
        id: blockId, day, tier: d.toTier as NewBlock['tier'], block: encodeBlock(kind, chunk.map((m) => m.row)),
        warmBytes: chunk.reduce((s, m) => s + m.warm, 0),
        moved: { at: e.occurredAt, by: e.eventId, policy: d.policy, reason: d.reason }, moves: [e.eventId],
      };
      plan.blocks.push(b);
      plan.bytesBefore += b.warmBytes;
      plan.bytesAfter += storedBytes(b);
    }
  }
  plan.warmIds = moving.map((m) => m.row[id] as string);
  plan.records = moving.length;
  return plan;
}

const BLOCK_SELECT = `SELECT block_id::text, agent_id, kind, day::text, tier, records, first_at, last_at, event_ids::text[] AS event_ids,
  stream_seqs, payload, archive_key, sha256, raw_bytes, stored_bytes, warm_bytes, moved_at, moved_by::text, policy, reason, moves::text[] AS moves
  FROM cold_blocks`;

/** Cold or archive → colder: the blocks of that day (or holding those ids), whole or cut in two. */
async function planFromBlocks(c: PoolClient, e: Move, kind: BlockKind, ids: string[], holds: Holds, ctx: LifecycleContext): Promise<Plan | LifecycleSkip> {
  const d = e.data;
  const toTier = d.toTier as 'archive' | 'deleted';
  const r = await c.query<BlockRowDb>(
    `${BLOCK_SELECT}
      WHERE agent_id = $1 AND kind = $2 AND tier = $3 AND ($4::date IS NULL OR day = $4::date)
        AND (cardinality($5::uuid[]) = 0 OR event_ids && $5::uuid[])
      ORDER BY day, first_at, block_id`,
    [e.agentId, kind, d.fromTier, d.dayMs > 0 ? dayOf(d.dayMs) : null, ids],
  );
  const wanted = ids.length > 0 ? new Set(ids) : undefined;
  const plan = emptyPlan();
  const { store, namespace } = ctx.options;
  for (const b of r.rows) {
    const named = wanted ? b.event_ids.filter((i) => wanted.has(i)) : b.event_ids;
    const moving = named.filter((i) => !isHeld(holds, i));
    plan.held += named.length - moving.length;
    if (moving.length === 0) continue;
    const share = (k: number) => Math.round((b.warm_bytes * k) / b.records);
    if (moving.length === b.records) {
      // The whole block changes tier in place.
      const key = toTier === 'archive' ? blockKey(namespace, b.agent_id, kind, b.block_id) : null;
      if (toTier === 'archive' && (!b.payload || sha256Hex(b.payload) !== b.sha256)) {
        return skip(e, 'BLOCK_CORRUPT', `cold block ${b.block_id} has no payload or its bytes do not match its sha256; it cannot be archived (rebuild the projection to make it again)`);
      }
      plan.inPlace.push({ block: b, tier: toTier, archiveKey: key });
      plan.records += b.records;
      plan.bytesBefore += b.stored_bytes;
      plan.bytesAfter += toTier === 'deleted' ? 0 : b.stored_bytes;
      continue;
    }
    // Cut in two: the rows that stay (same tier) and those that move.
    const bytes = await blockBytes(b, store);
    if (typeof bytes === 'string') return skip(e, b.archive_key && !store ? 'NO_ARCHIVE_STORE' : 'BLOCK_CORRUPT', bytes);
    let rows: BlockRow[];
    try {
      rows = decodeBlock(bytes).rows;
    } catch (err) {
      return skip(e, 'BLOCK_CORRUPT', `block ${b.block_id} does not decode: ${(err as Error).message}`);
    }
    const idCol = WARM_TABLE[kind].id;
    const goes = new Set(moving);
    const stay = rows.filter((x) => !goes.has(x[idCol] as string));
    const go = rows.filter((x) => goes.has(x[idCol] as string));
    const same = { at: b.moved_at.getTime(), by: b.moved_by, policy: b.policy, reason: b.reason };
    const kept: NewBlock = {
      id: derivedEventId(e.occurredAt, `${b.block_id}/${e.eventId}/kept`), day: b.day, tier: b.tier as 'cold' | 'archive',
      block: encodeBlock(kind, stay), warmBytes: share(stay.length), moved: same, moves: b.moves,
    };
    const moved: NewBlock = {
      id: derivedEventId(e.occurredAt, `${b.block_id}/${e.eventId}/moved`), day: b.day, tier: toTier,
      block: encodeBlock(kind, go), warmBytes: b.warm_bytes - kept.warmBytes,
      moved: { at: e.occurredAt, by: e.eventId, policy: d.policy, reason: d.reason }, moves: [...b.moves, e.eventId],
    };
    plan.retire.push(b);
    plan.blocks.push(kept, moved);
    plan.records += go.length;
    plan.bytesBefore += Math.round((b.stored_bytes * go.length) / b.records);
    plan.bytesAfter += storedBytes(moved);
  }
  return plan;
}

/**
 * Cold → cold, by day: the compaction of the day's cold blocks (several moves of
 * late rows make several small blocks) into as few blocks as the block size
 * allows, the rows in block order, cut every `blockRows`. Done only when it
 * makes fewer blocks (else the move changes nothing). The new blocks keep the
 * history of the blocks they merge, and the first takes the move's id (the
 * others ids derived from it), as blocks made from warm rows do: a rebuild
 * merges the same blocks into the same bytes.
 */
async function planCompaction(c: PoolClient, e: Move, kind: BlockKind, blockRows: number): Promise<Plan | LifecycleSkip> {
  const d = e.data;
  const day = dayOf(d.dayMs);
  const r = await c.query<BlockRowDb>(`${BLOCK_SELECT} WHERE agent_id = $1 AND kind = $2 AND tier = 'cold' AND day = $3::date ORDER BY first_at, block_id`, [e.agentId, kind, day]);
  const plan = emptyPlan();
  const records = r.rows.reduce((n, b) => n + b.records, 0);
  if (r.rows.length < 2 || Math.ceil(records / blockRows) >= r.rows.length) return plan;
  const rows: BlockRow[] = [];
  const history: string[] = [];
  let warm = 0;
  for (const b of r.rows) {
    if (!b.payload || sha256Hex(b.payload) !== b.sha256) {
      return skip(e, 'BLOCK_CORRUPT', `cold block ${b.block_id} has no payload or its bytes do not match its sha256; it cannot be compacted (rebuild the projection to make it again)`);
    }
    try {
      rows.push(...decodeBlock(b.payload).rows);
    } catch (err) {
      return skip(e, 'BLOCK_CORRUPT', `block ${b.block_id} does not decode: ${(err as Error).message}`);
    }
    warm += Number(b.warm_bytes);
    for (const m of b.moves) if (!history.includes(m)) history.push(m);
    plan.retire.push(b);
    plan.bytesBefore += b.stored_bytes;
  }
  rows.sort((a, b) => compareRows(kind, a, b));
  let warmLeft = warm;
  for (let i = 0; i < rows.length; i += blockRows) {
    const chunk = rows.slice(i, i + blockRows);
    const share = i + blockRows >= rows.length ? warmLeft : Math.round((warm * chunk.length) / rows.length);
    warmLeft -= share;
    const b: NewBlock = {
      id: i === 0 ? e.eventId : derivedEventId(e.occurredAt, `${e.eventId}/${day}/${i}`), day, tier: 'cold', block: encodeBlock(kind, chunk),
      warmBytes: share, moved: { at: e.occurredAt, by: e.eventId, policy: d.policy, reason: d.reason }, moves: [...history, e.eventId],
    };
    plan.blocks.push(b);
    plan.bytesAfter += storedBytes(b);
  }
  plan.records = rows.length;
  return plan;
}

/** A block's payload, from its row (cold) or the archive store, checked against its sha256; a string says why not. */
async function blockBytes(b: BlockRowDb, store: BlockObjectStore | undefined): Promise<Uint8Array | string> {
  let bytes: Uint8Array;
  if (b.payload) bytes = b.payload;
  else if (b.archive_key && store) bytes = await store.get(b.archive_key);
  else if (b.archive_key) return `block ${b.block_id} is in the archive store (${b.archive_key}), and tiering has no archive store configured; configure it, then replay this dead letter`;
  else return `block ${b.block_id} has no payload anywhere`;
  if (sha256Hex(bytes) !== b.sha256) return `block ${b.block_id}: its bytes do not match its sha256 (${b.sha256}); restore the object from a copy of the store, or rebuild the projection`;
  return bytes;
}

/** Writes an archive object; another object under that key (different bytes) refuses the move instead of stalling the partition. */
async function putObject(e: SeqEvent, store: BlockObjectStore, key: string, bytes: Uint8Array): Promise<LifecycleSkip | undefined> {
  try {
    await store.put(key, bytes);
    return undefined;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ARCHIVE_OBJECT_CONFLICT') {
      return skip(e, 'ARCHIVE_CONFLICT', `archive object '${key}' exists with other bytes (written by other codec settings?); archive objects are immutable: check it, remove it deliberately, then replay this dead letter`);
    }
    throw err; // the store is down or slow: the batch is retried in place
  }
}

async function insertBlock(c: PoolClient, e: Move, kind: BlockKind, b: NewBlock, partition: number, namespace: string): Promise<void> {
  const eb = b.block;
  await c.query(
    `INSERT INTO cold_blocks (block_id, agent_id, kind, day, tier, records, first_at, last_at, event_ids, stream_seqs, part, codec,
                              payload, archive_key, sha256, raw_bytes, stored_bytes, warm_bytes, moved_at, moved_by, policy, reason, moves)
     VALUES ($1, $2, $3, $4::date, $5, $6, $7, $8, $9::uuid[], $10::bigint[], $11, $12, $13, $14, $15, $16, $17, $18,
             to_timestamp($19 / 1000.0), $20, $21, $22, $23::uuid[])`,
    [b.id, e.agentId, kind, b.day, b.tier, eb.ids.length, eb.firstAt, eb.lastAt, eb.ids, eb.streamSeqs, partition, BLOCK_CODEC,
      b.tier === 'cold' ? eb.payload : null, b.tier === 'archive' ? blockKey(namespace, e.agentId, kind, b.id) : null, eb.sha256, eb.rawBytes,
      b.tier === 'deleted' ? 0 : eb.payload.length, b.warmBytes, b.moved.at, b.moved.by, b.moved.policy, b.moved.reason, b.moves],
  );
}

async function queueRemoval(c: PoolClient, b: BlockRowDb, partition: number, moveId: string): Promise<void> {
  await c.query(
    `INSERT INTO archive_removals (archive_key, agent_id, part, block_id, queued_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (archive_key) DO NOTHING`,
    [b.archive_key, b.agent_id, partition, b.block_id, moveId],
  );
}

/**
 * After the commit: removes the archive objects of deleted or re-cut blocks of
 * the partition from the store, then forgets them. A failure leaves them queued
 * for the next sweep (the partition's next move, or its next owner's takeover);
 * it never fails the batch. Returns how many it removed.
 */
export async function sweepArchiveRemovals(db: Queryable, store: BlockObjectStore | undefined, partition: number, log: Logger): Promise<number> {
  if (!store) return 0;
  const r = await db.query<{ archive_key: string }>('SELECT archive_key FROM archive_removals WHERE part = $1 ORDER BY archive_key LIMIT 1000', [partition]);
  let removed = 0;
  for (const { archive_key: key } of r.rows) {
    try {
      await store.remove(key);
      await db.query('DELETE FROM archive_removals WHERE archive_key = $1', [key]);
      removed++;
    } catch (err) {
      log.warn({ err: (err as Error)?.message ?? String(err), key, partition }, 'archive object of a deleted block not removed yet; retried at the next sweep');
      break;
    }
  }
  return removed;
}
