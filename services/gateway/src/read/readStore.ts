import { parseInstant } from '@farmbrain/contracts';
import type { Pool } from '@farmbrain/platform';
import { agentSummary, checkpointOut, decisionOut, memoryOut, MEMORY_COLUMNS, positionOut, tradeOut, type AgentRow, type AgentSummary } from '@farmbrain/store';
import type { AgentDirectory } from './agentDirectory.js';
import type { AgentState, AgentStateReader } from './agentState.js';
import { decodeCursor, encodeCursor } from './cursor.js';

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
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Warm-tier reads (Postgres), newest first, paged by (time, id) keyset so a
 * page stays stable while new rows arrive. Every agent-scoped listing answers
 * UNKNOWN_AGENT for an agent that has recorded no event (see AgentDirectory).
 */
export class ReadStore {
  constructor(
    private readonly pool: Pool,
    private readonly state: AgentStateReader,
    /** Which agents exist (one directory, shared with the memory API). */
    readonly agents: AgentDirectory,
  ) {}

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
    if (from) add((p) => `${l.timeCol} >= ${p}`, from);
    if (to) add((p) => `${l.timeCol} < ${p}`, to);
    if (q.symbol) add((p) => `symbol = ${p}`, q.symbol);
    for (const [col, v] of Object.entries(l.where ?? {})) if (v !== undefined) add((p) => `${col} = ${p}`, v);
    if (l.tag !== undefined) add((p) => `${p} = ANY(tags)`, l.tag);
    if (l.rawWhere) conds.push(l.rawWhere);
    const c = decodeCursor(q.cursor);
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
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const last = page[page.length - 1];
    return {
      items: page.map(map),
      nextCursor: more && last ? encodeCursor({ t: (last.__t as Date).toISOString(), id: String(last.__id) }) : null,
    };
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

  /** The agent's current state: the hot tier's complete copy, else Postgres (see AgentStateReader). */
  agentState(agentId: string): Promise<AgentState | undefined> {
    return this.state.read(agentId);
  }

  decisions(agentId: string, q: PageQuery) {
    return this.#page(agentId, q, { table: 'decisions', timeCol: 'occurred_at', idCol: 'event_id', select: '*' }, decisionOut);
  }

  trades(agentId: string, q: PageQuery & { decisionId?: string }) {
    return this.#page(agentId, q, { table: 'trades', timeCol: 'occurred_at', idCol: 'event_id', select: '*', where: { decision_id: q.decisionId } }, tradeOut);
  }

  positions(agentId: string, q: PageQuery & { status?: string }) {
    return this.#page(agentId, q, { table: 'positions', timeCol: 'opened_at', idCol: 'position_id', select: '*', where: { status: q.status } }, positionOut);
  }

  checkpoints(agentId: string, q: PageQuery & { label?: string }) {
    return this.#page(
      agentId,
      { ...q, symbol: undefined },
      { table: 'checkpoints', timeCol: 'occurred_at', idCol: 'event_id', select: 'event_id, agent_id, producer_seq, occurred_at, label, size_bytes', where: { label: q.label } },
      checkpointOut,
    );
  }

  async checkpoint(agentId: string, checkpointId: string): Promise<Record<string, unknown> | undefined> {
    await this.agents.require(agentId);
    if (!UUID.test(checkpointId)) return undefined;
    const r = await this.pool.query('SELECT * FROM checkpoints WHERE agent_id = $1 AND event_id = $2', [agentId, checkpointId]);
    const row = r.rows[0] as Record<string, unknown> | undefined;
    if (!row) return undefined;
    return { ...checkpointOut(row), state: (row.state as Buffer).toString('base64'), encoding: 'base64' };
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
