import { parseInstant } from '@farmbrain/contracts';
import type { Pool } from '@farmbrain/platform';
import {
  agentSummary,
  checkpointOut,
  decisionOut,
  memoryOut,
  MEMORY_COLUMNS,
  positionOut,
  tradeOut,
  WARM_TABLE,
  type AgentRow,
  type AgentSummary,
  type BlockKind,
  type BlockRow,
} from '@farmbrain/store';
import type { AgentDirectory } from './agentDirectory.js';
import type { AgentState, AgentStateReader } from './agentState.js';
import { BlockReader, type BlockObjectReader } from './blockReader.js';
import { agentStateAsOf, checkpointAt, type AgentStateAsOf, type CurrentCheckpoint } from './agentAsOf.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { RecordReader, type NextMoveOf } from './recordReader.js';

export interface PageQuery {
  from?: string;
  to?: string;
  symbol?: string;
  limit?: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

interface Listing {
  table: string;
  timeCol: string;
  idCol: string;
  select: string;
  /** Extra equality filters: column → value (skipped when undefined). */
  where?: Record<string, string | undefined>;
  /** Raw extra condition (no parameters). */
  rawWhere?: string;
  /** Rows whose `tags` contain this tag. */
  tag?: string;
  /** Records of this kind also live in cold and archive blocks: the listing reads those too. */
  kind?: BlockKind;
}

/** Where a listed record was read: warm rows, or a cold or archive block. */
export type ListedTier = 'warm' | 'cold' | 'archive';

/** Options of the read store beyond its connections. */
export interface ReadStoreOptions {
  /** The archive store, for records in the archive tier; without it, their reads answer 503 ARCHIVE_UNAVAILABLE. */
  archive?: BlockObjectReader;
  /** What lifecycle policy would do next with a record (explain's `next`); left out of explain without it. */
  nextMove?: NextMoveOf;
  /** Decoded blocks kept in memory. */
  cacheBlocks?: number;
}

/** One candidate of a page: its sort key and the item. */
interface Keyed<T> {
  t: Date;
  id: string;
  item: T;
}

/** Newest first: time desc, then id desc (code-unit order, as `id::text` compares lower-case uuids). */
const newestFirst = (a: { t: Date; id: string }, b: { t: Date; id: string }): number =>
  b.t.getTime() - a.t.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads of an agent's history, newest first, paged by (time, id) keyset so a
 * page stays stable while new rows arrive. Decisions, trades and checkpoints
 * are read across tiers: warm rows and the cold and archive blocks records
 * moved to, merged in one order, each item naming its `tier`; deleted records
 * (retention) are not listed. Every agent-scoped listing answers UNKNOWN_AGENT
 * for an agent that has recorded no event (see AgentDirectory).
 */
export class ReadStore {
  readonly #blocks: BlockReader;
  readonly #records: RecordReader;

  constructor(
    private readonly pool: Pool,
    private readonly state: AgentStateReader,
    /** Which agents exist (one directory, shared with the memory API). */
    readonly agents: AgentDirectory,
    o: ReadStoreOptions = {},
  ) {
    this.#blocks = new BlockReader(pool, o.archive, { cacheBlocks: o.cacheBlocks });
    this.#records = new RecordReader(pool, this.#blocks, o.nextMove);
  }

  /** Any record by id (decision, trade, checkpoint, recall or memory), in whichever tier it is. */
  record(recordId: string) {
    return this.#records.record(recordId);
  }

  /** Where a record is, since when, the moves that took it there and why, its legal hold, and (with a policy) what comes next. */
  explain(recordId: string) {
    return this.#records.explain(recordId);
  }

  async #page<T>(agentId: string, q: PageQuery, l: Listing, map: (row: Record<string, unknown>) => T): Promise<Page<T>> {
    await this.agents.require(agentId);
    const limit = q.limit ?? 50;
    const args: unknown[] = [agentId];
    const conds = ['agent_id = $1'];
    const add = (sql: (p: string) => string, v: unknown) => {
      args.push(v);
      conds.push(sql(`$${args.length}`));
    };
    const from = parseInstant('from', q.from, 'BAD_REQUEST');
    const to = parseInstant('to', q.to, 'BAD_REQUEST');
    const c = decodeCursor(q.cursor);
    if (from) add((p) => `${l.timeCol} >= ${p}`, from);
    if (to) add((p) => `${l.timeCol} < ${p}`, to);
    if (q.symbol) add((p) => `symbol = ${p}`, q.symbol);
    for (const [col, v] of Object.entries(l.where ?? {})) if (v !== undefined) add((p) => `${col} = ${p}`, v);
    if (l.tag !== undefined) add((p) => `${p} = ANY(tags)`, l.tag);
    if (l.rawWhere) conds.push(l.rawWhere);
    if (c) {
      args.push(c.t, c.id);
      conds.push(`(${l.timeCol}, ${l.idCol}::text) < ($${args.length - 1}::timestamptz, $${args.length})`);
    }
    args.push(limit + 1);
    const r = await this.pool.query(
      `SELECT ${l.select}, ${l.timeCol} AS __t, ${l.idCol}::text AS __id FROM ${l.table}
        WHERE ${conds.join(' AND ')} ORDER BY ${l.timeCol} DESC, ${l.idCol}::text DESC LIMIT $${args.length}`,
      args,
    );
    const rows = r.rows as Record<string, unknown>[];
    if (!l.kind) {
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      const last = page[page.length - 1];
      return {
        items: page.map(map),
        nextCursor: more && last ? encodeCursor({ t: (last.__t as Date).toISOString(), id: String(last.__id) }) : null,
      };
    }
    // Across tiers: the warm candidates, then the blocks that may hold newer rows than the page's last so far.
    const kind = l.kind;
    const idCol = WARM_TABLE[kind].id;
    const found: Keyed<T & { tier: ListedTier }>[] = rows.map((row) => ({ t: row.__t as Date, id: String(row.__id), item: { ...map(row), tier: 'warm' } }));
    const before = c ? { t: new Date(c.t), id: c.id } : undefined;
    const keep = (row: BlockRow): boolean => {
      const t = row.occurred_at as Date;
      if (from && t < from) return false;
      if (to && t >= to) return false;
      if (q.symbol && row.symbol !== q.symbol) return false;
      for (const [col, v] of Object.entries(l.where ?? {})) if (v !== undefined && row[col] !== v) return false;
      return !before || newestFirst({ t, id: row[idCol] as string }, before) > 0;
    };
    const blocks = await this.#blocks.candidates(agentId, kind, { ...(from ? { from } : {}), ...(to ? { to } : {}), ...(before ? { before: before.t } : {}) });
    for (const b of blocks) {
      // Blocks come newest end first: once the page is full and a block ends before its last item, no later block can add one.
      const floor = found.length > limit ? found[limit]! : undefined;
      if (floor && b.lastAt.getTime() < floor.t.getTime()) break;
      for (const row of await this.#blocks.rows(b)) {
        if (keep(row)) found.push({ t: row.occurred_at as Date, id: row[idCol] as string, item: { ...map(row), tier: b.tier as ListedTier } });
      }
      found.sort(newestFirst);
      found.length = Math.min(found.length, limit + 1);
    }
    found.sort(newestFirst);
    const more = found.length > limit;
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map((k) => k.item), nextCursor: more && last ? encodeCursor({ t: last.t.toISOString(), id: last.id }) : null };
  }

  async listAgents(q: { limit?: number; cursor?: string; team?: string }): Promise<Page<AgentSummary>> {
    const limit = q.limit ?? 50;
    const args: unknown[] = [];
    const conds: string[] = ['true'];
    if (q.team) {
      args.push(q.team);
      conds.push(`team = $${args.length}`);
    }
    const c = decodeCursor(q.cursor);
    if (c) {
      args.push(c.id);
      conds.push(`agent_id > $${args.length}`);
    }
    args.push(limit + 1);
    const r = await this.pool.query(
      `SELECT * FROM agents WHERE ${conds.join(' AND ')} ORDER BY agent_id LIMIT $${args.length}`,
      args,
    );
    const more = r.rows.length > limit;
    const page = (more ? r.rows.slice(0, limit) : r.rows) as AgentRow[];
    const last = page[page.length - 1];
    return {
      items: page.map(agentSummary),
      nextCursor: more && last ? encodeCursor({ t: new Date(0).toISOString(), id: last.agent_id }) : null,
    };
  }

  /** The agent as it stood at a moment (see agentAsOf.ts); undefined: unknown then. */
  async stateAsOf(agentId: string, at: Date): Promise<AgentStateAsOf | undefined> {
    await this.agents.require(agentId);
    return agentStateAsOf(this.pool, this, agentId, at);
  }

  /** The agent's current checkpoint: its newest, unless a later restore made another one current. */
  async currentCheckpoint(agentId: string): Promise<CurrentCheckpoint | null> {
    await this.agents.require(agentId);
    const until = new Date(Date.now() + 86_400_000);
    return checkpointAt(this.pool, this, agentId, until.toISOString(), until.toISOString());
  }

  /** The agent's current state: the hot tier's complete copy, else Postgres (see AgentStateReader). */
  agentState(agentId: string): Promise<AgentState | undefined> {
    return this.state.read(agentId);
  }

  decisions(agentId: string, q: PageQuery) {
    return this.#page(agentId, q, { table: 'decisions', timeCol: 'occurred_at', idCol: 'event_id', select: '*', kind: 'decision' }, decisionOut);
  }

  trades(agentId: string, q: PageQuery & { decisionId?: string }) {
    return this.#page(agentId, q, { table: 'trades', timeCol: 'occurred_at', idCol: 'event_id', select: '*', where: { decision_id: q.decisionId }, kind: 'trade' }, tradeOut);
  }

  positions(agentId: string, q: PageQuery & { status?: string }) {
    return this.#page(agentId, q, { table: 'positions', timeCol: 'opened_at', idCol: 'position_id', select: '*', where: { status: q.status } }, positionOut);
  }

  checkpoints(agentId: string, q: PageQuery & { label?: string }) {
    return this.#page(
      agentId,
      { ...q, symbol: undefined },
      {
        table: 'checkpoints', timeCol: 'occurred_at', idCol: 'event_id', select: 'event_id, agent_id, producer_seq, occurred_at, label, size_bytes',
        where: { label: q.label }, kind: 'checkpoint',
      },
      checkpointOut,
    );
  }

  /** One checkpoint with its state, from warm rows or the block it moved to (not once deleted). */
  async checkpoint(agentId: string, checkpointId: string): Promise<Record<string, unknown> | undefined> {
    await this.agents.require(agentId);
    if (!UUID.test(checkpointId)) return undefined;
    const id = checkpointId.toLowerCase();
    const r = await this.pool.query('SELECT * FROM checkpoints WHERE agent_id = $1 AND event_id = $2', [agentId, id]);
    const warm = r.rows[0] as Record<string, unknown> | undefined;
    if (warm) return withState(warm, 'warm');
    const b = await this.#blocks.holding(id);
    if (!b || b.kind !== 'checkpoint' || b.agentId !== agentId || b.tier === 'deleted') return undefined;
    const row = await this.#blocks.row(b, id);
    return row ? withState(row, b.tier) : undefined;
  }

  memories(agentId: string, q: PageQuery & { kind?: string; scope?: string; tag?: string; includeForgotten?: boolean }) {
    const raw: string[] = [];
    if (!q.includeForgotten) raw.push('forgotten_at IS NULL');
    return this.#page(
      agentId,
      { ...q, symbol: undefined },
      {
        table: 'memories', timeCol: 'created_at', idCol: 'memory_id', select: MEMORY_COLUMNS,
        where: { kind: q.kind, scope: q.scope }, ...(q.tag ? { tag: q.tag } : {}), ...(raw.length ? { rawWhere: raw.join(' AND ') } : {}),
      },
      memoryOut,
    );
  }
}

const withState = (row: Record<string, unknown>, tier: ListedTier) => ({
  ...checkpointOut(row), state: (row.state as Buffer).toString('base64'), encoding: 'base64', tier,
});
