import { FarmbrainError, type Tier } from '@farmbrain/contracts';
import type { Pool } from '@farmbrain/platform';
import { checkpointOut, decisionOut, memoryOut, recallOut, tradeOut, type BlockKind } from '@farmbrain/store';
import { NotFoundError } from '../http/errors.js';
import type { BlockMeta, BlockReader } from './blockReader.js';

/** The kinds of record `GET /v1/records/:id` finds. */
export type RecordKindRead = BlockKind | 'memory';

/** What a lifecycle policy would do next with a record (explain's `next`). */
export interface NextMove {
  toTier: Tier;
  policy: string;
  /** When it becomes due (ISO 8601), or null when it is due now or the policy has no date for it. */
  at: string | null;
  reason: string;
}

/** A record as explain describes it to the policy hook. */
export interface ExplainSubject {
  recordId: string;
  kind: RecordKindRead;
  agentId: string;
  tier: 'hot' | 'warm' | 'cold' | 'archive' | 'deleted';
  /** ISO 8601; null for a deleted record (its time went with it). */
  occurredAt: string | null;
  legalHold: boolean;
}

/**
 * The lifecycle policy's answer for one record (wired by main.ts from the
 * lifecycle configuration): null when no policy moves it further.
 */
export type NextMoveOf = (r: ExplainSubject) => NextMove | null | Promise<NextMove | null>;

/** A record retention deleted: its id is known (a tombstone), its content is gone. */
export class RecordDeletedError extends FarmbrainError {
  constructor(recordId: string, policy: string, reason: string) {
    super('RECORD_DELETED', `record '${recordId}' was deleted by retention (policy ${policy}: ${reason}); GET /v1/lifecycle/explain/${recordId} says when and why`);
    this.name = 'RecordDeletedError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** Where a record was found. */
type Located =
  | { where: 'warm'; kind: RecordKindRead; row: Record<string, unknown> }
  | { where: 'block'; kind: BlockKind; block: BlockMeta };

const WARM_LOOKUP = `
  SELECT 'decision' AS kind FROM decisions WHERE event_id = $1::uuid
  UNION ALL SELECT 'trade' FROM trades WHERE event_id = $1::uuid
  UNION ALL SELECT 'checkpoint' FROM checkpoints WHERE event_id = $1::uuid
  UNION ALL SELECT 'recall' FROM recalls WHERE recall_id = $1::uuid
  LIMIT 1`;
const TABLE: Record<BlockKind, [string, string]> = {
  decision: ['decisions', 'event_id'], trade: ['trades', 'event_id'], checkpoint: ['checkpoints', 'event_id'], recall: ['recalls', 'recall_id'],
};

/** A record of any kind as its listing shows it (a checkpoint with its state). */
function recordOut(kind: RecordKindRead, row: Record<string, unknown>): Record<string, unknown> {
  switch (kind) {
    case 'decision': return decisionOut(row);
    case 'trade': return tradeOut(row);
    case 'checkpoint': return { ...checkpointOut(row), state: (row.state as Buffer).toString('base64'), encoding: 'base64' };
    case 'recall': return recallOut(row);
    case 'memory': return memoryOut(row);
  }
}

/**
 * Any record by id, in whichever tier it is (`GET /v1/records/:id`), and why
 * it is there (`GET /v1/lifecycle/explain/:id`): the moves that took it there
 * (records_moved events, with their policy and reason), its legal hold, and,
 * given the policy, what comes next.
 */
export class RecordReader {
  constructor(private readonly pool: Pool, private readonly blocks: BlockReader, private readonly nextMove?: NextMoveOf) {}

  async #locate(recordIdIn: string): Promise<Located | undefined> {
    const isUuid = UUID.test(recordIdIn);
    const id = isUuid ? recordIdIn.toLowerCase() : recordIdIn;
    if (isUuid) {
      const k = (await this.pool.query<{ kind: BlockKind }>(WARM_LOOKUP, [id])).rows[0]?.kind;
      if (k) {
        const [table, col] = TABLE[k];
        const row = (await this.pool.query(`SELECT * FROM ${table} WHERE ${col} = $1::uuid`, [id])).rows[0] as Record<string, unknown> | undefined;
        if (row) return { where: 'warm', kind: k, row };
      }
    }
    const m = (await this.pool.query('SELECT * FROM memories WHERE memory_id = $1', [recordIdIn])).rows[0] as Record<string, unknown> | undefined;
    if (m) return { where: 'warm', kind: 'memory', row: m };
    if (!isUuid) return undefined;
    const block = await this.blocks.holding(id);
    return block ? { where: 'block', kind: block.kind, block } : undefined;
  }

  async record(recordIdIn: string): Promise<{ kind: RecordKindRead; agentId: string; tier: 'warm' | 'cold' | 'archive'; record: Record<string, unknown> }> {
    const at = await this.#locate(recordIdIn);
    if (!at) throw new NotFoundError('record', recordIdIn);
    if (at.where === 'warm') return { kind: at.kind, agentId: at.row.agent_id as string, tier: 'warm', record: recordOut(at.kind, at.row) };
    const b = at.block;
    if (b.tier === 'deleted') {
      const last = await this.#moves([b.moves.at(-1)!]);
      throw new RecordDeletedError(recordIdIn, last[0]?.policy ?? '?', last[0]?.reason ?? '?');
    }
    const row = await this.blocks.row(b, recordIdIn.toLowerCase());
    if (!row) throw new NotFoundError('record', recordIdIn);
    return { kind: b.kind, agentId: b.agentId, tier: b.tier, record: recordOut(b.kind, row) };
  }

  async #moves(ids: readonly string[]) {
    if (ids.length === 0) return [];
    const r = await this.pool.query<{ event_id: string; from_tier: string; to_tier: string; policy: string; reason: string; moved_at: Date; day: string | null }>(
      `SELECT event_id::text, from_tier, to_tier, policy, reason, moved_at, day::text FROM lifecycle_moves
        WHERE event_id = ANY($1::uuid[]) ORDER BY stream_seq, event_id`,
      [ids],
    );
    return r.rows.map((m) => ({ moveId: m.event_id, fromTier: m.from_tier, toTier: m.to_tier, policy: m.policy, reason: m.reason, at: m.moved_at.toISOString(), day: m.day }));
  }

  async explain(recordIdIn: string) {
    const at = await this.#locate(recordIdIn);
    if (!at) throw new NotFoundError('record', recordIdIn);
    const recordId = at.where === 'warm' ? String(at.row[at.kind === 'memory' ? 'memory_id' : at.kind === 'recall' ? 'recall_id' : 'event_id']) : recordIdIn.toLowerCase();
    const agentId = at.where === 'warm' ? (at.row.agent_id as string) : at.block.agentId;
    // A memory's tier is its own (promoted to hot while recalled often); other warm records are rows.
    const tier = at.where === 'warm' ? (at.kind === 'memory' && at.row.tier === 'hot' ? 'hot' : 'warm') : at.block.tier;
    const history = at.where === 'block' ? await this.#moves(at.block.moves) : [];
    let occurredAt: string | null = null;
    if (at.where === 'warm') occurredAt = iso((at.kind === 'memory' ? at.row.created_at : at.row.occurred_at) as Date);
    else if (at.block.tier !== 'deleted') {
      // Explain answers even when the archive store does not (its time is then left out).
      const row = await this.blocks.row(at.block, recordId).catch((err: unknown) => {
        if (at.block.tier === 'archive') return undefined;
        throw err;
      });
      occurredAt = iso(row?.occurred_at as Date | undefined);
    }
    const holds = await this.pool.query<{ record_id: string; reason: string; operator: string; held_at: Date }>(
      `SELECT record_id, reason, operator, held_at FROM legal_holds WHERE agent_id = $1 AND record_id IN ('', $2) ORDER BY record_id DESC`,
      [agentId, recordId],
    );
    const h = holds.rows[0];
    const legalHold = h ? { scope: h.record_id === '' ? 'agent' as const : 'record' as const, reason: h.reason, operator: h.operator, since: h.held_at.toISOString() } : null;
    // Since when it is where it is: its last move, else (never moved) since it occurred.
    const since = history.at(-1)?.at ?? (at.where === 'block' ? at.block.movedAt.toISOString() : occurredAt);
    const subject: ExplainSubject = { recordId, kind: at.kind, agentId, tier, occurredAt, legalHold: legalHold !== null };
    return {
      recordId, kind: at.kind, agentId, tier, occurredAt, since, history, legalHold,
      ...(this.nextMove ? { next: await this.nextMove(subject) } : {}),
    };
  }
}
