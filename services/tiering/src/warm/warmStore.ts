import { memoryDocument, SYSTEM_EVENT_TYPES, type EventOf, type FarmEvent } from '@farmbrain/contracts';
import { normalize, toBytes, type Pool, type PoolClient } from '@farmbrain/platform';
import { applyLifecycle, isLifecycleEvent, notMovedSql, type LifecycleContext, type LifecycleSkip } from './lifecycle.js';
import { applyRestores, recordAgentHistory } from './agentHistory.js';
import { applyConsolidation } from './consolidate.js';
import { applyErasure } from './erase.js';
import { SNAPSHOT_SQL } from './memorySnapshot.js';
import { evolvePositions, type PositionEvent, type PositionRow } from '@farmbrain/store';

import type { SeqEvent, Skip as ProjectionSkip } from '@farmbrain/projection';

export type { SeqEvent };

type MemoryEvent = EventOf<'memory_stored'> | EventOf<'memory_updated'> | EventOf<'memory_forgotten'>;

/**
 * Event types whose every effect hangs off a row keyed by their event id,
 * inserted ON CONFLICT DO NOTHING, with folds (positions, access counts)
 * following only from rows actually inserted: applying one twice changes
 * nothing, so the runner need not claim their ids (a claim costs an index
 * insert per event, and these are nearly all of a fleet's events). Every other
 * type (registrations, state changes, memory changes) is claimed.
 */
export const KEYED_BY_ROW: ReadonlySet<FarmEvent['type']> = new Set(['decision_made', 'trade_executed', 'position_closed', 'checkpoint_saved', 'memory_recalled']);

/** Events that change a memory (a recall reads memories; it changes none). */
export const isMemoryChange = (e: FarmEvent): e is MemoryEvent =>
  e.type === 'memory_stored' || e.type === 'memory_updated' || e.type === 'memory_forgotten';

/** Events that change memories as a whole (consolidation, erasure): applied in log order with the ones above. */
type MemoryContentEvent = EventOf<'memories_consolidated'> | EventOf<'memory_erased'>;
const isContentChange = (e: FarmEvent): e is MemoryContentEvent => e.type === 'memories_consolidated' || e.type === 'memory_erased';

/** The memories an event changes (a consolidation: the canonical and the originals it merges). */
export const changedMemoryIds = (e: FarmEvent): string[] => {
  if (isMemoryChange(e) || e.type === 'memory_erased') return [e.data.memoryId];
  if (e.type === 'memories_consolidated') return [e.data.canonicalMemoryId, ...e.data.mergedIds];
  return [];
};

/** Embeddings the projection computed for memory events without one, by event id. */
export interface ComputedEmbeddings {
  model: string;
  byEvent: Map<string, Float32Array>;
}

/** What a batch applies beyond its events: the partition, and embeddings computed before the transaction. */
export interface ApplyContext {
  partition: number;
  embeddings: ComputedEmbeddings;
  /** Moves between tiers and legal holds (lifecycle.ts); without it they are applied with no archive store. */
  lifecycle?: LifecycleContext;
}

/**
 * The texts this batch needs embedded: stored memories without an embedding,
 * and updates that change the text without bringing a new embedding.
 */
export function textsToEmbed(events: readonly FarmEvent[]): { eventId: string; text: string }[] {
  const out: { eventId: string; text: string }[] = [];
  for (const e of events) {
    if (e.type === 'memory_stored' && e.data.embedding.length === 0) out.push({ eventId: e.eventId, text: memoryDocument(e.data.text, e.data.tags) });
    else if (e.type === 'memory_updated' && e.data.text !== undefined && e.data.embedding.length === 0) out.push({ eventId: e.eventId, text: e.data.text });
  }
  return out;
}

const ofType = <T extends FarmEvent['type']>(events: readonly SeqEvent[], t: T) =>
  events.filter((e): e is EventOf<T> & { streamSeq: number } => e.type === t);

const json = (rows: unknown[]) => JSON.stringify(rows);

/** An event the projection chose not to apply, and why (it is dead-lettered with this code, so it leaves a trace). */
export interface Skip extends ProjectionSkip {
  code: 'NOT_OWNER' | 'UNKNOWN_MEMORY' | 'MEMORY_FORGOTTEN' | 'MEMORY_EXISTS' | 'NOT_CONSOLIDABLE' | 'UNKNOWN_CHECKPOINT' | LifecycleSkip['code'];
}

/**
 * Applies events (in log order) to the warm tables. The runner hands each event
 * over at most once (by event id); on top of that, every row is keyed by its
 * event id, and side effects (positions, memory versions, agent state) follow
 * only from rows this call inserted, or are guarded by producer sequence.
 * Returns the events it skipped on purpose.
 */
export async function applyWarm(c: PoolClient, events: readonly SeqEvent[], ctx: ApplyContext): Promise<Skip[]> {
  if (!events.some(isLifecycleEvent)) return applyRun(c, events, ctx);
  // A move or hold applies between the events before it and those after it (a decision recorded after a
  // move of its day stays warm): the batch goes in runs, whatever way the log was cut into batches.
  const lifecycle: LifecycleContext = ctx.lifecycle ?? { partition: ctx.partition, state: { kindsWithBlocks: new Set() }, options: { namespace: '' } };
  const skipped: Skip[] = [];
  let run: SeqEvent[] = [];
  for (const e of events) {
    if (!isLifecycleEvent(e)) {
      run.push(e);
      continue;
    }
    skipped.push(...(await applyRun(c, run, ctx)));
    run = [];
    const s = await applyLifecycle(c, e, lifecycle);
    if (s) skipped.push(s);
  }
  skipped.push(...(await applyRun(c, run, ctx)));
  return skipped;
}

/** Events of an agent's own (no lifecycle event among them). */
async function applyRun(c: PoolClient, events: readonly SeqEvent[], ctx: ApplyContext): Promise<Skip[]> {
  const skipped: Skip[] = [];
  if (events.length === 0) return skipped;
  const moved = ctx.lifecycle?.state;
  await insertDecisions(c, ofType(events, 'decision_made'), notMovedSql(moved, 'decision', 'x.id'));
  await insertCheckpoints(c, ofType(events, 'checkpoint_saved'), notMovedSql(moved, 'checkpoint', 'x.id'));
  await applyPositionEvents(c, events.filter((e): e is PositionEvent & { streamSeq: number } => e.type === 'trade_executed' || e.type === 'position_closed'), notMovedSql(moved, 'trade', 'x.id'));
  await applyMemoryEvents(c, events, ctx, skipped);
  await applyRecalls(c, ofType(events, 'memory_recalled'), notMovedSql(moved, 'recall', 'x.id'));
  skipped.push(...(await applyRestores(c, ofType(events, 'agent_restored'))));
  // An event skipped on purpose changes nothing, not even "seen"; nor does what farmbrain itself writes about the agent (system events).
  const refused = new Set(skipped.map((s) => s.event.eventId));
  await upsertAgentsSeen(c, events.filter((e) => !refused.has(e.eventId) && !SYSTEM_EVENT_TYPES.has(e.type)));
  // Registrations and state changes update the agent's row, which the upsert above guarantees; its history keeps each.
  for (const e of events) {
    if (e.type === 'agent_registered' || e.type === 'agent_state_changed') {
      await applyAgentEvent(c, e);
      await recordAgentHistory(c, e);
    }
  }
  return skipped;
}

async function upsertAgentsSeen(c: PoolClient, events: readonly SeqEvent[]): Promise<void> {
  if (events.length === 0) return;
  const seen = new Map<string, { agent_id: string; first: number; last: number }>();
  for (const e of events) {
    const s = seen.get(e.agentId);
    if (!s) seen.set(e.agentId, { agent_id: e.agentId, first: e.occurredAt, last: e.occurredAt });
    else {
      s.first = Math.min(s.first, e.occurredAt);
      s.last = Math.max(s.last, e.occurredAt);
    }
  }
  await c.query(
    `INSERT INTO agents (agent_id, first_seen_at, last_event_at)
     SELECT agent_id, to_timestamp(first / 1000.0), to_timestamp(last / 1000.0)
       FROM jsonb_to_recordset($1::jsonb) AS x(agent_id text, first bigint, last bigint)
     ORDER BY agent_id
     ON CONFLICT (agent_id) DO UPDATE SET
       first_seen_at = LEAST(agents.first_seen_at, EXCLUDED.first_seen_at),
       last_event_at = GREATEST(agents.last_event_at, EXCLUDED.last_event_at)`,
    [json([...seen.values()])],
  );
}

async function applyAgentEvent(c: PoolClient, e: EventOf<'agent_registered'> | EventOf<'agent_state_changed'>): Promise<void> {
  if (e.type === 'agent_registered') {
    await c.query(
      `UPDATE agents SET name = $2, team = $3, strategy = $4, config = $5::jsonb,
              registered_at = COALESCE(registered_at, to_timestamp($6 / 1000.0)), state_seq = $7
        WHERE agent_id = $1 AND state_seq < $7`,
      [e.agentId, e.data.name, e.data.team, e.data.strategy, JSON.stringify(e.data.config), e.occurredAt, e.producerSeq],
    );
  } else {
    await c.query(
      `UPDATE agents SET status = $2, config = COALESCE($3::jsonb, config), state_seq = $4
        WHERE agent_id = $1 AND state_seq < $4`,
      [e.agentId, e.data.status, e.data.config === undefined ? null : JSON.stringify(e.data.config), e.producerSeq],
    );
  }
}

async function insertDecisions(c: PoolClient, ds: readonly (EventOf<'decision_made'> & { streamSeq: number })[], notMoved: string): Promise<void> {
  if (ds.length === 0) return;
  await c.query(
    `INSERT INTO decisions (event_id, agent_id, producer_seq, occurred_at, symbol, action, size, confidence,
                            rationale, situation, memory_ids, recall_ids, correlation_id, stream_seq)
     SELECT id, agent_id, seq, to_timestamp(at / 1000.0), symbol, action, size, confidence,
            rationale, situation, memory_ids, recall_ids, corr, stream_seq
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, agent_id text, seq bigint, at bigint, symbol text,
            action text, size float8, confidence float8, rationale text, situation float8[], memory_ids text[],
            recall_ids text[], corr text, stream_seq bigint)
     ${notMoved}
     ON CONFLICT (event_id) DO NOTHING`,
    [
      json(ds.map((e) => ({
        id: e.eventId, agent_id: e.agentId, seq: e.producerSeq, at: e.occurredAt, symbol: e.data.symbol,
        action: e.data.action, size: e.data.size, confidence: e.data.confidence, rationale: e.data.rationale,
        situation: e.data.situation, memory_ids: e.data.memoryIds, recall_ids: e.data.recallIds, corr: e.correlationId, stream_seq: e.streamSeq,
      }))),
    ],
  );
}

async function insertCheckpoints(c: PoolClient, cs: readonly (EventOf<'checkpoint_saved'> & { streamSeq: number })[], notMoved: string): Promise<void> {
  if (cs.length === 0) return;
  await c.query(
    `INSERT INTO checkpoints (event_id, agent_id, producer_seq, occurred_at, label, state, size_bytes, stream_seq)
     SELECT id, agent_id, seq, to_timestamp(at / 1000.0), label, decode(state, 'base64'), size, stream_seq
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, agent_id text, seq bigint, at bigint, label text,
            state text, size int, stream_seq bigint)
     ${notMoved}
     ON CONFLICT (event_id) DO NOTHING`,
    [
      json(cs.map((e) => ({
        id: e.eventId, agent_id: e.agentId, seq: e.producerSeq, at: e.occurredAt, label: e.data.label,
        state: Buffer.from(e.data.state.buffer, e.data.state.byteOffset, e.data.state.byteLength).toString('base64'),
        size: e.data.state.byteLength, stream_seq: e.streamSeq,
      }))),
    ],
  );
}

async function applyPositionEvents(c: PoolClient, evs: readonly (PositionEvent & { streamSeq: number })[], tradeNotMoved: string): Promise<void> {
  if (evs.length === 0) return;
  const trades = evs.filter((e): e is EventOf<'trade_executed'> & { streamSeq: number } => e.type === 'trade_executed');
  const closes = evs.filter((e): e is EventOf<'position_closed'> & { streamSeq: number } => e.type === 'position_closed');
  const fresh = new Set<string>();
  if (trades.length > 0) {
    const r = await c.query<{ event_id: string }>(
      `INSERT INTO trades (event_id, agent_id, producer_seq, occurred_at, order_id, symbol, side, qty, price, fees, decision_id, stream_seq)
       SELECT id, agent_id, seq, to_timestamp(at / 1000.0), order_id, symbol, side, qty, price, fees, decision_id, stream_seq
         FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, agent_id text, seq bigint, at bigint, order_id text,
              symbol text, side text, qty float8, price float8, fees float8, decision_id text, stream_seq bigint)
       ${tradeNotMoved}
       ON CONFLICT (event_id) DO NOTHING
       RETURNING event_id`,
      [
        json(trades.map((e) => ({
          id: e.eventId, agent_id: e.agentId, seq: e.producerSeq, at: e.occurredAt, order_id: e.data.orderId,
          symbol: e.data.symbol, side: e.data.side, qty: e.data.qty, price: e.data.price, fees: e.data.fees,
          decision_id: e.data.decisionId, stream_seq: e.streamSeq,
        }))),
      ],
    );
    for (const row of r.rows) fresh.add(row.event_id);
  }
  if (closes.length > 0) {
    const r = await c.query<{ event_id: string }>(
      `INSERT INTO position_closes (event_id, agent_id, occurred_at, symbol, realized_pnl, exit_price, decision_ids)
       SELECT id, agent_id, to_timestamp(at / 1000.0), symbol, pnl, exit_price, decision_ids
         FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, agent_id text, at bigint, symbol text, pnl float8,
              exit_price float8, decision_ids text[])
       ON CONFLICT (event_id) DO NOTHING
       RETURNING event_id`,
      [
        json(closes.map((e) => ({
          id: e.eventId, agent_id: e.agentId, at: e.occurredAt, symbol: e.data.symbol, pnl: e.data.realizedPnl,
          exit_price: e.data.exitPrice, decision_ids: e.data.decisionIds,
        }))),
      ],
    );
    for (const row of r.rows) fresh.add(row.event_id);
  }
  const todo = evs.filter((e) => fresh.has(e.eventId));
  if (todo.length === 0) return;
  const pairs = [...new Set(todo.map((e) => JSON.stringify([e.agentId, e.data.symbol])))].map((s) => JSON.parse(s) as [string, string]);
  const open = await c.query<DbPosition>(
    `SELECT p.* FROM positions p
       JOIN jsonb_to_recordset($1::jsonb) AS x(a text, s text) ON p.agent_id = x.a AND p.symbol = x.s
      WHERE p.status = 'open'
      FOR UPDATE OF p`,
    [json(pairs.map(([a, s]) => ({ a, s })))],
  );
  const { rows, closedBy } = evolvePositions(open.rows.map(fromDb), todo);
  for (const row of rows) {
    // One statement per changed position keeps the open-position unique index
    // satisfied row by row (a close and a re-open of a symbol can share a batch).
    await c.query(
      `INSERT INTO positions (position_id, agent_id, symbol, status, qty, avg_price, fees, opened_at, closed_at,
                              realized_pnl, exit_price, decision_ids, trade_count, close_event_id, updated_seq)
       VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8 / 1000.0), to_timestamp($9 / 1000.0), $10, $11, $12, $13, $14, $15)
       ON CONFLICT (position_id) DO UPDATE SET status = EXCLUDED.status, qty = EXCLUDED.qty,
         avg_price = EXCLUDED.avg_price, fees = EXCLUDED.fees, closed_at = EXCLUDED.closed_at,
         realized_pnl = EXCLUDED.realized_pnl, exit_price = EXCLUDED.exit_price, decision_ids = EXCLUDED.decision_ids,
         trade_count = EXCLUDED.trade_count, close_event_id = EXCLUDED.close_event_id, updated_seq = EXCLUDED.updated_seq`,
      [row.positionId, row.agentId, row.symbol, row.status, row.qty, row.avgPrice, row.fees, row.openedAt, row.closedAt,
        row.realizedPnl, row.exitPrice, row.decisionIds, row.tradeCount, row.closeEventId, row.updatedSeq],
    );
  }
  if (closedBy.size > 0) {
    await c.query(
      `UPDATE position_closes pc SET position_id = x.p
         FROM jsonb_to_recordset($1::jsonb) AS x(e uuid, p uuid) WHERE pc.event_id = x.e`,
      [json([...closedBy].map(([e, p]) => ({ e, p })))],
    );
  }
}

interface DbPosition {
  position_id: string; agent_id: string; symbol: string; status: 'open' | 'closed'; qty: number; avg_price: number;
  fees: number; opened_at: Date; closed_at: Date | null; realized_pnl: number | null; exit_price: number | null;
  decision_ids: string[]; trade_count: number; close_event_id: string | null; updated_seq: number;
}
const fromDb = (p: DbPosition): PositionRow => ({
  positionId: p.position_id, agentId: p.agent_id, symbol: p.symbol, status: p.status, qty: p.qty, avgPrice: p.avg_price,
  fees: p.fees, openedAt: p.opened_at.getTime(), closedAt: p.closed_at ? p.closed_at.getTime() : null,
  realizedPnl: p.realized_pnl, exitPrice: p.exit_price, decisionIds: p.decision_ids, tradeCount: p.trade_count,
  closeEventId: p.close_event_id, updatedSeq: p.updated_seq,
});

/**
 * Memories: a stored event creates the row (version 1); updates and forgets
 * bump its version. Each applied event leaves a memory_versions row with the
 * memory as it stood after it; a re-delivered event finds its version row and
 * changes nothing. Consolidations (consolidate.ts) and erasures (erase.ts)
 * apply in log order among them.
 */
async function applyMemoryEvents(c: PoolClient, events: readonly SeqEvent[], ctx: ApplyContext, skipped: Skip[]): Promise<void> {
  const mem = events.filter((e): e is (MemoryEvent | MemoryContentEvent) & { streamSeq: number } => isMemoryChange(e) || isContentChange(e));
  if (mem.length === 0) return;
  const known = await c.query<{ event_id: string }>('SELECT event_id FROM memory_versions WHERE event_id = ANY($1::uuid[])', [mem.map((e) => e.eventId)]);
  const done = new Set(known.rows.map((r) => r.event_id));
  /** The embedding record of an event: the agent's own, or the one computed for it, or none. */
  const embeddingOf = (e: MemoryEvent): { bytes: Buffer; dims: number; model: string } | null => {
    if (e.type === 'memory_forgotten') return null;
    if (e.data.embedding.length > 0) {
      const v = normalize(e.data.embedding);
      return { bytes: toBytes(v), dims: v.length, model: e.data.embeddingModel || 'client' };
    }
    const v = ctx.embeddings.byEvent.get(e.eventId);
    return v ? { bytes: toBytes(v), dims: v.length, model: ctx.embeddings.model } : null;
  };
  type Snap = { version: number; snapshot: unknown; embedding_model: string };
  const versions: { e: MemoryEvent; snap: Snap }[] = [];
  const flush = () => insertVersions(c, versions.splice(0));
  const todo = mem.filter((e) => !done.has(e.eventId));
  for (let i = 0; i < todo.length; ) {
    const e = todo[i]!;
    if (isContentChange(e)) {
      // The versions so far go in first: an erasure scrubs every version of its memory, those of this batch too.
      await flush();
      const s = e.type === 'memories_consolidated' ? await applyConsolidation(c, e, ctx.partition) : await applyErasure(c, e, ctx.partition);
      if (s) skipped.push(s);
      i++;
      continue;
    }
    if (e.type === 'memory_stored') {
      // A run of stores becomes one multi-row insert (the common case: agents remember far more than they revise).
      let j = i;
      while (j < todo.length && todo[j]!.type === 'memory_stored') j++;
      const run = todo.slice(i, j) as (EventOf<'memory_stored'> & { streamSeq: number })[];
      const first = new Map<string, EventOf<'memory_stored'> & { streamSeq: number }>();
      for (const s of run) if (!first.has(s.data.memoryId)) first.set(s.data.memoryId, s);
      const r = await c.query<Snap & { memory_id: string }>(
        `INSERT INTO memories (memory_id, agent_id, kind, text, tags, importance, embedding, embedding_dims, embedding_model,
                               situation, scope, scope_id, expires_at, source_event_ids, version, created_at, updated_at,
                               part, change_seq)
         SELECT id, agent_id, kind, text, tags, importance, decode(emb, 'base64'), dims, model, situation, scope, scope_id,
                CASE WHEN expires > 0 THEN to_timestamp(expires / 1000.0) END, sources, 1,
                to_timestamp(at / 1000.0), to_timestamp(at / 1000.0), part, seq
           FROM jsonb_to_recordset($1::jsonb) AS x(id text, agent_id text, kind text, text text, tags text[], importance float8,
                emb text, dims int, model text, situation float8[], scope text, scope_id text, expires bigint, sources text[],
                at bigint, part int, seq bigint)
         ON CONFLICT (memory_id) DO NOTHING
         RETURNING memory_id, version, embedding_model, ${SNAPSHOT_SQL} AS snapshot`,
        [json([...first.values()].map((s) => {
          const d = s.data;
          const emb = embeddingOf(s);
          return {
            id: d.memoryId, agent_id: s.agentId, kind: d.kind, text: d.text, tags: d.tags, importance: d.importance,
            emb: emb ? emb.bytes.toString('base64') : null, dims: emb?.dims ?? 0, model: emb?.model ?? '', situation: d.situation,
            scope: d.scope, scope_id: d.scopeId, expires: d.expiresAt, sources: d.sourceEventIds, at: s.occurredAt,
            part: ctx.partition, seq: s.streamSeq,
          };
        }))],
      );
      const stored = new Set<string>();
      for (const row of r.rows) {
        versions.push({ e: first.get(row.memory_id)!, snap: row });
        stored.add(first.get(row.memory_id)!.eventId);
      }
      for (const s of run) {
        if (!stored.has(s.eventId)) {
          skipped.push({ event: s, code: 'MEMORY_EXISTS', reason: `memory id '${s.data.memoryId}' is already in use; store a new memory under a new id (or leave memoryId out), or update the existing one` });
        }
      }
      i = j;
      continue;
    }
    let snap: Snap | undefined;
    const emb = embeddingOf(e);
    if (e.type === 'memory_updated') {
      const d = e.data;
      const r = await c.query<{ version: number; snapshot: unknown; embedding_model: string }>(
        `UPDATE memories SET
           text = COALESCE($3, text),
           tags = CASE WHEN $5 THEN $4::text[] ELSE ARRAY(SELECT DISTINCT unnest(tags || $4::text[]) ORDER BY 1) END,
           importance = COALESCE($6, importance),
           embedding = COALESCE($7, embedding),
           embedding_dims = COALESCE($8, embedding_dims),
           embedding_model = COALESCE($9, embedding_model),
           expires_at = CASE WHEN $10::bigint IS NULL THEN expires_at WHEN $10 = 0 THEN NULL ELSE to_timestamp($10 / 1000.0) END,
           version = version + 1,
           updated_at = to_timestamp($11 / 1000.0),
           part = $12, change_seq = $13
         WHERE memory_id = $1 AND agent_id = $2 AND forgotten_at IS NULL
         RETURNING version, embedding_model, ${SNAPSHOT_SQL} AS snapshot`,
        [d.memoryId, e.agentId, d.text ?? null, d.tags, d.replaceTags, d.importance ?? null, emb?.bytes ?? null, emb?.dims ?? null,
          emb?.model ?? null, d.expiresAt ?? null, e.occurredAt, ctx.partition, e.streamSeq],
      );
      snap = r.rows[0];
    } else {
      const r = await c.query<{ version: number; snapshot: unknown; embedding_model: string }>(
        `UPDATE memories SET forgotten_at = to_timestamp($3 / 1000.0), forgotten_reason = $4, version = version + 1,
                updated_at = to_timestamp($3 / 1000.0), part = $5, change_seq = $6
          WHERE memory_id = $1 AND agent_id = $2 AND forgotten_at IS NULL
          RETURNING version, embedding_model, ${SNAPSHOT_SQL} AS snapshot`,
        [e.data.memoryId, e.agentId, e.occurredAt, e.data.reason, ctx.partition, e.streamSeq],
      );
      snap = r.rows[0];
    }
    // An update or forget of an unknown, forgotten or someone else's memory changes nothing and leaves no
    // version; it is dead-lettered with the reason, so the producer can find out.
    if (snap) versions.push({ e, snap });
    else skipped.push(await whySkipped(c, e));
    i++;
  }
  await flush();
}

async function insertVersions(c: PoolClient, versions: readonly { e: MemoryEvent; snap: { version: number; snapshot: unknown; embedding_model: string } }[]): Promise<void> {
  if (versions.length === 0) return;
  await c.query(
    `INSERT INTO memory_versions (event_id, memory_id, agent_id, version, op, occurred_at, snapshot, embedding_model)
     SELECT event_id, memory_id, agent_id, version, op, to_timestamp(at / 1000.0), snapshot, model
       FROM jsonb_to_recordset($1::jsonb) AS x(event_id uuid, memory_id text, agent_id text, version int, op text, at bigint,
            snapshot jsonb, model text)
     ON CONFLICT (event_id) DO NOTHING`,
    [json(versions.map(({ e, snap }) => ({
      event_id: e.eventId, memory_id: e.data.memoryId, agent_id: e.agentId, version: snap.version,
      op: e.type.slice('memory_'.length), at: e.occurredAt, snapshot: snap.snapshot, model: snap.embedding_model,
    })))],
  );
}

/** Why an update or forget found no memory of its agent to change. */
async function whySkipped(c: PoolClient, e: EventOf<'memory_updated'> | EventOf<'memory_forgotten'>): Promise<Skip> {
  const r = await c.query<{ agent_id: string; forgotten: boolean }>('SELECT agent_id, forgotten_at IS NOT NULL AS forgotten FROM memories WHERE memory_id = $1', [e.data.memoryId]);
  const row = r.rows[0];
  const what = e.type === 'memory_updated' ? 'update' : 'forget';
  const ev = e as SeqEvent;
  if (!row) return { event: ev, code: 'UNKNOWN_MEMORY', reason: `${what} of memory '${e.data.memoryId}', which does not exist (yet): store it first; an ${what} that arrives before its memory is not applied` };
  if (row.agent_id !== e.agentId) return { event: ev, code: 'NOT_OWNER', reason: `${what} of memory '${e.data.memoryId}' by agent '${e.agentId}', but it belongs to agent '${row.agent_id}'; only the owner can change or forget a memory` };
  return { event: ev, code: 'MEMORY_FORGOTTEN', reason: `${what} of memory '${e.data.memoryId}', which is forgotten; store a new memory instead` };
}

/**
 * Recalls: each becomes a provenance row (what was asked, which memory versions
 * came back), and counts as one access of every memory it returned. Counts only
 * follow from rows this call inserted, so a replay never counts twice.
 */
async function applyRecalls(c: PoolClient, rs: readonly (EventOf<'memory_recalled'> & { streamSeq: number })[], notMoved: string): Promise<void> {
  if (rs.length === 0) return;
  const r = await c.query<{ recall_id: string }>(
    `INSERT INTO recalls (recall_id, agent_id, occurred_at, query_text, query_vector, embedding_model, filters, k, hits, correlation_id, stream_seq)
     SELECT id, agent_id, to_timestamp(at / 1000.0), q, qv, model, filters, k, hits, corr, stream_seq
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, agent_id text, at bigint, q text, qv real[], model text, filters jsonb,
            k int, hits jsonb, corr text, stream_seq bigint)
     ${notMoved}
     ON CONFLICT (recall_id) DO NOTHING
     RETURNING recall_id`,
    [
      json(rs.map((e) => ({
        id: e.eventId, agent_id: e.agentId, at: e.occurredAt, q: e.data.queryText, qv: e.data.queryVector, model: e.data.embeddingModel,
        filters: e.data.filters, k: e.data.k, hits: e.data.hits, corr: e.correlationId, stream_seq: e.streamSeq,
      }))),
    ],
  );
  const fresh = new Set(r.rows.map((row) => row.recall_id));
  const access = new Map<string, { n: number; at: number }>();
  for (const e of rs) {
    if (!fresh.has(e.eventId)) continue;
    for (const h of e.data.hits) {
      const a = access.get(h.memoryId);
      if (a) {
        a.n += 1;
        a.at = Math.max(a.at, e.occurredAt);
      } else access.set(h.memoryId, { n: 1, at: e.occurredAt });
    }
  }
  if (access.size === 0) return;
  // Usage columns only: the row's version and change feed position are untouched (a recall changes no memory).
  await c.query(
    `UPDATE memories m SET access_count = m.access_count + x.n,
            last_accessed_at = GREATEST(m.last_accessed_at, to_timestamp(x.at / 1000.0))
       FROM (SELECT * FROM jsonb_to_recordset($1::jsonb) AS y(id text, n int, at bigint) ORDER BY id) x
      WHERE m.memory_id = x.id`,
    [json([...access].map(([id, a]) => ({ id, n: a.n, at: a.at })))],
  );
}
