import { derivedEventId } from '@farmbrain/contracts';
import type { Pool } from '@farmbrain/platform';
import { decodeBlock, encodeBlock, sha256Hex, WARM_TABLE, compareRows, type BlockRow } from '@farmbrain/store';
import type { PlannedMove } from './planner.js';
import { DAY_KINDS, type DayKind } from './policy.js';

/**
 * Most records in one block (tiering cuts a day with more into several). Part of
 * the block layout: tiering (warm/lifecycle.ts) makes blocks of this size, and
 * the compaction planner counts with it.
 */
export const DEFAULT_BLOCK_ROWS = 8192;

/** The policy name compaction moves carry (they are no age policy's: `farmbrain optimize` plans them). */
export const COMPACTION_POLICY = 'optimize.compaction';

/** One cold block, as the compaction planner sees it. */
export interface ColdBlockInfo {
  blockId: string;
  agentId: string;
  kind: DayKind;
  dayMs: number;
  records: number;
  storedBytes: number;
}

/** A day's cold blocks once merged: what tiering will store (exact: the same codec on the same rows). */
export interface CompactionMeasure {
  blocks: number;
  bytes: number;
}

/** One day of one agent and kind whose cold blocks are merged. */
export interface CompactionDay {
  agentId: string;
  kind: DayKind;
  dayMs: number;
  /** Blocks before (those already cold, plus those a warm → cold move of the same plan makes). */
  blocksBefore: number;
  blocksAfter: number;
  records: number;
}

export interface CompactionPlan {
  moves: PlannedMove[];
  days: CompactionDay[];
  /** Cold bytes of the blocks merged, before and after (exact when measured, else the blocks' own bytes). */
  bytesBefore: number;
  bytesAfter: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const PLURAL: Record<DayKind, string> = { decision: 'decisions', trade: 'trades', recall: 'recalls' };
const dayKey = (agentId: string, kind: string, dayMs: number): string => `${agentId}\u0000${kind}\u0000${dayMs}`;

/**
 * Plans the compaction of cold blocks (pure): each agent, kind and UTC day
 * whose cold blocks, after the moves of `earlier` (the same run's retention
 * plan) are applied, would be fewer once merged, gets one records_moved
 * cold → cold move for the day. Tiering merges every cold block of the day when
 * it applies it (warm/lifecycle.ts), so the move names the day, not the blocks;
 * its id derives from the blocks seen (and the warm → cold move joining them),
 * so planning again before it is applied gives the same id.
 *
 * `measured` gives the exact bytes after, by day key (see measureCompaction);
 * without it, the blocks' bytes are kept as the estimate.
 */
export function planCompaction(
  blocks: readonly ColdBlockInfo[],
  earlier: readonly PlannedMove[],
  now: number,
  { blockRows = DEFAULT_BLOCK_ROWS, measured }: { blockRows?: number; measured?: ReadonlyMap<string, CompactionMeasure> } = {},
): CompactionPlan {
  const days = new Map<string, ColdBlockInfo[]>();
  for (const b of blocks) {
    if (!(DAY_KINDS as readonly string[]).includes(b.kind)) continue;
    const k = dayKey(b.agentId, b.kind, b.dayMs);
    days.set(k, [...(days.get(k) ?? []), b]);
  }
  // What the earlier moves do to the days' cold blocks: a day leaving cold is not compacted; warm rows joining it add blocks.
  const leaving = new Set<string>();
  const joining = new Map<string, PlannedMove>();
  for (const m of earlier) {
    const { kind, fromTier, toTier, dayMs } = m.data;
    if (dayMs === 0) continue;
    const k = dayKey(m.agentId, kind, dayMs);
    if (fromTier === 'cold' && toTier !== 'cold') leaving.add(k);
    if (fromTier === 'warm' && toTier === 'cold') joining.set(k, m);
  }
  const plan: CompactionPlan = { moves: [], days: [], bytesBefore: 0, bytesAfter: 0 };
  const keys = [...new Set([...days.keys(), ...joining.keys()])].sort();
  for (const k of keys) {
    if (leaving.has(k)) continue;
    const cold = [...(days.get(k) ?? [])].sort((a, b) => (a.blockId < b.blockId ? -1 : 1));
    const warm = joining.get(k);
    if (cold.length === 0) continue;
    const records = cold.reduce((n, b) => n + b.records, 0) + (warm?.records ?? 0);
    const before = cold.length + (warm ? Math.ceil(warm.records / blockRows) : 0);
    const after = Math.ceil(records / blockRows);
    if (before < 2 || after >= before) continue;
    const { agentId, kind, dayMs } = cold[0]!;
    const bytesBefore = cold.reduce((n, b) => n + b.storedBytes, 0) + (warm?.bytesAfter ?? 0);
    const bytesAfter = measured?.get(k)?.bytes ?? bytesBefore;
    const reason = `${before} cold blocks of ${PLURAL[kind]} of ${iso(dayMs).slice(0, 10)} (${records} records) merged into ${after} (blocks of up to ${blockRows} records), by optimize ${'as of'} ${iso(now)}`;
    plan.moves.push({
      eventId: derivedEventId(dayMs, `records_moved/v1|${agentId}|${kind}|day:${dayMs}|cold>cold|${COMPACTION_POLICY}|blocks:${cold.map((b) => b.blockId).join(',')}|warm:${warm?.eventId ?? ''}`),
      agentId,
      occurredAt: now,
      data: { kind, fromTier: 'cold', toTier: 'cold', dayMs, recordIds: [], policy: COMPACTION_POLICY, reason },
      records,
      bytesBefore,
      bytesAfter,
    });
    plan.days.push({ agentId, kind, dayMs, blocksBefore: before, blocksAfter: after, records });
    plan.bytesBefore += bytesBefore;
    plan.bytesAfter += bytesAfter;
  }
  return plan;
}

/**
 * The cold blocks the compaction planner looks at: of days holding two blocks or
 * more, or one block and warm rows a move of the same run sends to cold (`joining`).
 */
export async function readColdBlocks(pool: Pool, { agents, joining = [] }: { agents?: readonly string[]; joining?: readonly { agentId: string; kind: string; dayMs: number }[] } = {}): Promise<ColdBlockInfo[]> {
  const r = await pool.query<{ block_id: string; agent_id: string; kind: DayKind; day_ms: string; records: number; stored_bytes: number }>(
    `WITH days AS (
       SELECT agent_id, kind, day FROM cold_blocks
        WHERE tier = 'cold' AND kind = ANY($1) AND ($2::text[] IS NULL OR agent_id = ANY($2))
        GROUP BY 1, 2, 3 HAVING count(*) >= 2
       UNION
       SELECT j.agent_id, j.kind, (to_timestamp(j.day_ms / 1000.0) AT TIME ZONE 'UTC')::date
         FROM unnest($3::text[], $4::text[], $5::bigint[]) AS j(agent_id, kind, day_ms))
     SELECT b.block_id::text, b.agent_id, b.kind, (extract(epoch FROM b.day::timestamp) * 1000)::bigint AS day_ms, b.records, b.stored_bytes
       FROM cold_blocks b JOIN days d USING (agent_id, kind, day)
      WHERE b.tier = 'cold'
      ORDER BY b.agent_id, b.kind, b.day, b.block_id`,
    [[...DAY_KINDS], agents ? [...agents] : null, joining.map((j) => j.agentId), joining.map((j) => j.kind), joining.map((j) => j.dayMs)],
  );
  return r.rows.map((x) => ({ blockId: x.block_id, agentId: x.agent_id, kind: x.kind, dayMs: Number(x.day_ms), records: x.records, storedBytes: x.stored_bytes }));
}

/**
 * The exact outcome of merging each planned day: its cold blocks decoded, with
 * the warm rows a move of the same run sends to cold, encoded again in blocks of
 * `blockRows` (the codec is deterministic: tiering makes these very bytes).
 * Reads the payloads of those days only.
 */
export async function measureCompaction(
  pool: Pool,
  days: readonly { agentId: string; kind: DayKind; dayMs: number; withWarm: boolean }[],
  { blockRows = DEFAULT_BLOCK_ROWS }: { blockRows?: number } = {},
): Promise<Map<string, CompactionMeasure>> {
  const out = new Map<string, CompactionMeasure>();
  for (const d of days) {
    const day = iso(d.dayMs).slice(0, 10);
    const r = await pool.query<{ payload: Buffer | null; sha256: string }>(
      `SELECT payload, sha256 FROM cold_blocks WHERE agent_id = $1 AND kind = $2 AND day = $3::date AND tier = 'cold'`, [d.agentId, d.kind, day]);
    const rows: BlockRow[] = [];
    let ok = true;
    for (const b of r.rows) {
      if (!b.payload || sha256Hex(b.payload) !== b.sha256) {
        ok = false;
        break;
      }
      rows.push(...decodeBlock(b.payload).rows);
    }
    if (!ok) continue;
    if (d.withWarm) {
      const { table } = WARM_TABLE[d.kind];
      const w = await pool.query<BlockRow>(
        `SELECT t.* FROM ${table} t WHERE t.agent_id = $1 AND t.occurred_at >= to_timestamp($2 / 1000.0) AND t.occurred_at < to_timestamp(($2 + 86400000) / 1000.0)`,
        [d.agentId, d.dayMs]);
      rows.push(...w.rows);
    }
    rows.sort((a, b) => compareRows(d.kind, a, b));
    let bytes = 0;
    let blocks = 0;
    for (let i = 0; i < rows.length; i += blockRows) {
      bytes += encodeBlock(d.kind, rows.slice(i, i + blockRows)).payload.length;
      blocks++;
    }
    out.set(dayKey(d.agentId, d.kind, d.dayMs), { blocks, bytes });
  }
  return out;
}

export const compactionDayKey = dayKey;
