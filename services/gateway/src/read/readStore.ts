import type { Redis } from 'ioredis';
import type { Pool } from '@farmbrain/platform';
import { decodeCursor, encodeCursor, parseTime } from './cursor.js';

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

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/**
 * Warm-tier reads (Postgres), newest first, paged by (time, id) keyset so a
 * page stays stable while new rows arrive.
 */
export class ReadStore {
  constructor(
    private readonly pool: Pool,
    private readonly redis: Redis,
    private readonly redisPrefix: string,
  ) {}

  async #page<T>(agentId: string, q: PageQuery, l: Listing, map: (row: Record<string, unknown>) => T): Promise<Page<T>> {
    const limit = q.limit ?? 50;
    const args: unknown[] = [agentId];
    const conds = ['agent_id = $1'];
    const add = (sql: (p: string) => string, v: unknown) => {
      args.push(v);
      conds.push(sql(`$${args.length}`));
    };
    const from = parseTime('from', q.from);
    const to = parseTime('to', q.to);
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

  /** The agent's current state: Redis hot state first, Postgres when Redis has none. */
  async agentState(agentId: string): Promise<AgentState | undefined> {
    const p = this.redisPrefix;
    const [state, decisions, positions, memIds, mems] = (await this.redis
      .multi()
      .hgetall(`${p}agent:${agentId}`)
      .lrange(`${p}agent:${agentId}:decisions`, 0, 9)
      .hgetall(`${p}agent:${agentId}:positions`)
      .zrevrange(`${p}agent:${agentId}:memories:recent`, 0, 9)
      .hgetall(`${p}agent:${agentId}:memories`)
      .exec()
      .then((res) => (res ?? []).map(([err, v]) => {
        if (err) throw err;
        return v;
      }))) as [Record<string, string>, string[], Record<string, string>, string[], Record<string, string>];
    const warm = await this.pool.query<AgentRow>('SELECT * FROM agents WHERE agent_id = $1', [agentId]);
    const row = warm.rows[0];
    if (!row) return undefined;
    if (state && state._seq) {
      return {
        ...agentSummary(row),
        status: state.status ?? row.status,
        config: state.config ? (JSON.parse(state.config) as Record<string, unknown>) : row.config,
        lastEventAt: state.lastEventAt ? new Date(Number(state.lastEventAt)).toISOString() : iso(row.last_event_at),
        openPositions: Object.values(positions).map((j) => JSON.parse(j) as Record<string, unknown>).sort(bySymbol),
        recentDecisions: decisions.map((j) => JSON.parse(j) as Record<string, unknown>),
        recentMemories: memIds.map((id) => mems[id]).filter((j): j is string => j !== undefined).map((j) => JSON.parse(j) as Record<string, unknown>),
        source: 'hot',
      };
    }
    const [pos, dec, mem] = await Promise.all([
      this.pool.query(`SELECT * FROM positions WHERE agent_id = $1 AND status = 'open' ORDER BY symbol`, [agentId]),
      this.pool.query('SELECT * FROM decisions WHERE agent_id = $1 ORDER BY occurred_at DESC, event_id DESC LIMIT 10', [agentId]),
      this.pool.query(`SELECT ${MEMORY_COLUMNS} FROM memories WHERE agent_id = $1 AND forgotten_at IS NULL ORDER BY created_at DESC LIMIT 10`, [agentId]),
    ]);
    return {
      ...agentSummary(row),
      openPositions: pos.rows.map(positionOut),
      recentDecisions: dec.rows.map(decisionOut),
      recentMemories: mem.rows.map(memoryOut),
      source: 'warm',
    };
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
    if (!/^[0-9a-f-]{36}$/i.test(checkpointId)) return undefined;
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

  async ready(): Promise<{ postgres: boolean; redis: boolean }> {
    const [postgres, redis] = await Promise.all([
      this.pool.query(`SELECT to_regclass('decisions') IS NOT NULL AS ok`).then((r) => Boolean(r.rows[0]?.ok)).catch(() => false),
      this.redis.ping().then((v) => v === 'PONG').catch(() => false),
    ]);
    return { postgres, redis };
  }
}

const bySymbol = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.symbol).localeCompare(String(b.symbol));

interface AgentRow {
  agent_id: string; name: string; team: string; strategy: string; config: Record<string, unknown>; status: string;
  registered_at: Date | null; first_seen_at: Date; last_event_at: Date;
}
export interface AgentSummary {
  agentId: string; name: string; team: string; strategy: string; status: string; config: Record<string, unknown>;
  registeredAt: string | null; firstSeenAt: string | null; lastEventAt: string | null;
}
export interface AgentState extends AgentSummary {
  openPositions: Record<string, unknown>[];
  recentDecisions: Record<string, unknown>[];
  recentMemories: Record<string, unknown>[];
  /** Which tier answered: 'hot' (Redis) or 'warm' (Postgres). */
  source: 'hot' | 'warm';
}
const agentSummary = (r: AgentRow): AgentSummary => ({
  agentId: r.agent_id, name: r.name, team: r.team, strategy: r.strategy, status: r.status, config: r.config,
  registeredAt: iso(r.registered_at), firstSeenAt: iso(r.first_seen_at), lastEventAt: iso(r.last_event_at),
});
const decisionOut = (r: Record<string, unknown>) => ({
  decisionId: r.event_id, agentId: r.agent_id, occurredAt: iso(r.occurred_at as Date), symbol: r.symbol, action: r.action,
  size: r.size, confidence: r.confidence, rationale: r.rationale, situation: r.situation, memoryIds: r.memory_ids,
  recallIds: r.recall_ids, producerSeq: r.producer_seq, correlationId: r.correlation_id,
});
const tradeOut = (r: Record<string, unknown>) => ({
  tradeId: r.event_id, agentId: r.agent_id, occurredAt: iso(r.occurred_at as Date), orderId: r.order_id, symbol: r.symbol,
  side: r.side, qty: r.qty, price: r.price, fees: r.fees, decisionId: r.decision_id || null, producerSeq: r.producer_seq,
});
const positionOut = (r: Record<string, unknown>) => ({
  positionId: r.position_id, agentId: r.agent_id, symbol: r.symbol, status: r.status, qty: r.qty, avgPrice: r.avg_price,
  fees: r.fees, openedAt: iso(r.opened_at as Date), closedAt: iso(r.closed_at as Date | null), realizedPnl: r.realized_pnl,
  exitPrice: r.exit_price, decisionIds: r.decision_ids, tradeCount: r.trade_count,
  holdingMs: r.closed_at ? (r.closed_at as Date).getTime() - (r.opened_at as Date).getTime() : null,
});
const checkpointOut = (r: Record<string, unknown>) => ({
  checkpointId: r.event_id, agentId: r.agent_id, occurredAt: iso(r.occurred_at as Date), label: r.label,
  sizeBytes: r.size_bytes, producerSeq: r.producer_seq,
});
/** Everything a memory listing shows: not the embedding bytes nor the text-search vector. */
const MEMORY_COLUMNS = `memory_id, agent_id, kind, text, tags, importance, scope, scope_id, version, embedding_dims, embedding_model,
  expires_at, created_at, updated_at, forgotten_at, source_event_ids, access_count, last_accessed_at`;
const memoryOut = (r: Record<string, unknown>) => ({
  memoryId: r.memory_id, agentId: r.agent_id, kind: r.kind, text: r.text, tags: r.tags, importance: r.importance,
  scope: r.scope, scopeId: r.scope_id, version: r.version, embeddingDims: r.embedding_dims, embeddingModel: r.embedding_model,
  expiresAt: iso(r.expires_at as Date | null), createdAt: iso(r.created_at as Date), updatedAt: iso(r.updated_at as Date),
  forgottenAt: iso(r.forgotten_at as Date | null), sourceEventIds: r.source_event_ids,
  accessCount: r.access_count, lastAccessedAt: iso(r.last_accessed_at as Date | null),
});
