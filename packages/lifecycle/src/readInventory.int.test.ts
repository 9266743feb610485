import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { derivedEventId } from '@farmbrain/contracts';
import { COMMON_DEFAULTS, connectPostgres, migrate, quoteIdent, type Pool } from '@farmbrain/platform';
import { MIGRATIONS_DIR } from '@farmbrain/store';
import { uniqueNamespace } from '@farmbrain/testing';
import { applyPlan, DAY_MS, DEFAULT_LIFECYCLE_POLICY, planMoves, readInventory, utcDay, type DayCell } from './index.js';

/**
 * readInventory against the real warm tables and cold blocks (rows written by
 * hand, as tiering would): what it sees, and what it leaves out to stay cheap.
 */

const NOW = Date.UTC(2026, 11, 1, 9, 30);
const DAY0 = utcDay(NOW);
const schema = uniqueNamespace('lc_inv');
let pool: Pool;
let seq = 0;
const id = (at: number) => derivedEventId(at, `row-${++seq}`);
const ts = (ms: number) => new Date(ms).toISOString();

async function decision(agent: string, at: number, table: 'decisions' | 'trades' | 'recalls' = 'decisions'): Promise<string> {
  const eid = id(at);
  seq++;
  if (table === 'decisions') {
    await pool.query(`INSERT INTO decisions (event_id, agent_id, producer_seq, occurred_at, symbol, action, size, confidence, rationale, stream_seq)
                      VALUES ($1, $2, 1, $3, 'BTC', 'buy', 1, 0.5, 'r', $4)`, [eid, agent, ts(at), seq]);
  } else if (table === 'trades') {
    await pool.query(`INSERT INTO trades (event_id, agent_id, producer_seq, occurred_at, order_id, symbol, side, qty, price, fees, stream_seq)
                      VALUES ($1, $2, 1, $3, 'o', 'BTC', 'buy', 1, 100, 0, $4)`, [eid, agent, ts(at), seq]);
  } else {
    await pool.query(`INSERT INTO recalls (recall_id, agent_id, occurred_at, query_text, k, hits, stream_seq)
                      VALUES ($1, $2, $3, 'q', 5, '[]', $4)`, [eid, agent, ts(at), seq]);
  }
  return eid;
}

async function block(agent: string, kind: string, dayMs: number, tier: string, ids: string[], seqs: number[]): Promise<void> {
  await pool.query(
    `INSERT INTO cold_blocks (block_id, agent_id, kind, day, tier, records, first_at, last_at, event_ids, stream_seqs, part, codec, payload,
                              sha256, raw_bytes, stored_bytes, warm_bytes, moved_at, moved_by, policy, reason)
     VALUES ($1, $2, $3, $4::date, $5, $6, $7, $8, $9::uuid[], $10::bigint[], 0, 'test', NULL, 'x', 1000, 250, 1000, now(), $1, 'p', 'r')`,
    [id(dayMs), agent, kind, ts(dayMs).slice(0, 10), tier, ids.length, ts(dayMs + 1000), ts(dayMs + 3600_000), ids, seqs],
  );
}

before(async () => {
  pool = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, schema, { max: 2 });
  await migrate(pool, schema, MIGRATIONS_DIR);
  for (const a of ['a1', 'a2']) await pool.query(`INSERT INTO agents (agent_id, first_seen_at, last_event_at) VALUES ($1, now(), now())`, [a]);
});
after(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
});

test('readInventory - days past the youngest age, blocks, checkpoints and holds, for the agents asked', async () => {
  const d10 = DAY0 - 10 * DAY_MS;
  const heldId = await decision('a1', d10 + 5_000);
  await decision('a1', d10 + 6_000);
  await decision('a1', d10 + 7_000);
  await decision('a1', DAY0 - DAY_MS + 1); // yesterday: younger than 7 days, not read
  await decision('a2', d10 + 1); // another agent's
  await decision('a1', DAY0 - 100 * DAY_MS, 'trades');
  await decision('a1', DAY0 - 2 * DAY_MS, 'recalls'); // recalls go cold after 3 days: not yet
  await decision('a1', DAY0 - 4 * DAY_MS, 'recalls');
  await block('a1', 'decision', DAY0 - 100 * DAY_MS, 'cold', [id(1), id(2)], [7, 9]);
  await block('a1', 'decision', DAY0 - 20 * DAY_MS, 'cold', [id(3)], [11]); // archive age (90) not reached: not read
  await block('a1', 'recall', DAY0 - 400 * DAY_MS, 'archive', [id(4)], [12]);
  await block('a1', 'recall', DAY0 - 40 * DAY_MS, 'archive', [id(5)], [13]); // delete age (365) not reached: not read
  const cpIds = [id(DAY0 - 50 * DAY_MS + 10), id(DAY0 - 50 * DAY_MS + 20)];
  await block('a1', 'checkpoint', DAY0 - 50 * DAY_MS, 'archive', cpIds, [20, 21]);
  const cpWarm = id(DAY0 - 3600_000);
  await pool.query(`INSERT INTO checkpoints (event_id, agent_id, producer_seq, occurred_at, label, state, size_bytes, stream_seq)
                    VALUES ($1, 'a1', 1, $2, 'cp', '\\x00', 1000, 99)`, [cpWarm, ts(DAY0 - 3600_000)]);
  await pool.query(`INSERT INTO legal_holds (agent_id, record_id, reason, operator, held_at, event_id) VALUES ('a1', $1, 'audit', 'ops', now(), $2), ('a2', '', 'case 7', 'ops', now(), $3)`,
    [heldId, id(0), id(0)]);

  const inv = await readInventory(pool, { agents: ['a1'], now: NOW, policy: DEFAULT_LIFECYCLE_POLICY });
  const cells = inv.days.map((c) => ({ ...c, bytes: c.bytes > 0 })).sort((a, b) => `${a.kind}${a.dayMs}${a.tier}`.localeCompare(`${b.kind}${b.dayMs}${b.tier}`));
  const want: (Omit<DayCell, 'bytes'> & { bytes: boolean })[] = [
    { agentId: 'a1', kind: 'decision', dayMs: DAY0 - 100 * DAY_MS, tier: 'cold', records: 2, lastSeq: 9, bytes: true, heldRecords: 0 },
    { agentId: 'a1', kind: 'decision', dayMs: d10, tier: 'warm', records: 3, lastSeq: 3, bytes: true, heldRecords: 1 },
    { agentId: 'a1', kind: 'recall', dayMs: DAY0 - 400 * DAY_MS, tier: 'archive', records: 1, lastSeq: 12, bytes: true, heldRecords: 0 },
    { agentId: 'a1', kind: 'recall', dayMs: DAY0 - 4 * DAY_MS, tier: 'warm', records: 1, lastSeq: 0, bytes: true, heldRecords: 0 },
    { agentId: 'a1', kind: 'trade', dayMs: DAY0 - 100 * DAY_MS, tier: 'warm', records: 1, lastSeq: 0, bytes: true, heldRecords: 0 },
  ];
  // Stream seqs of the warm rows are the insertion counters: check them apart.
  assert.deepEqual(cells.map((c) => ({ ...c, lastSeq: c.tier === 'warm' ? 0 : c.lastSeq })), want.map((c) => ({ ...c, lastSeq: c.tier === 'warm' ? 0 : c.lastSeq })));
  assert.deepEqual(inv.holds, [{ agentId: 'a1', recordId: heldId }]);
  assert.deepEqual(inv.checkpoints.map((e) => [e.eventId, e.tier]).sort(), [[cpIds[0], 'archive'], [cpIds[1], 'archive'], [cpWarm, 'warm']].sort());
  const archived = inv.checkpoints.find((e) => e.eventId === cpIds[0])!;
  assert.equal(archived.occurredAt, DAY0 - 50 * DAY_MS + 1000, 'a block keeps no times: the id\'s clock, within the block\'s span');
  assert.equal(inv.compressionRatio, 0.25);
  assert.deepEqual(inv.notes, [], 'memory tiers are tracked (memories.tier): nothing to say');

  // The plan from it: the held day goes cold (only deletion respects holds); the recall day of 400 days ago is deleted.
  const plan = planMoves(inv, DEFAULT_LIFECYCLE_POLICY, NOW);
  assert.deepEqual(plan.moves.map((m) => `${m.data.policy} ${m.data.fromTier}>${m.data.toTier}`).sort(), [
    'decision.archiveAfterDays cold>archive',
    'decision.coldAfterDays warm>cold',
    'recall.coldAfterDays warm>cold',
    'recall.deleteAfterDays archive>deleted',
    'trade.archiveAfterDays warm>archive',
  ]);
  assert.deepEqual(planMoves(applyPlan(inv, plan), DEFAULT_LIFECYCLE_POLICY, NOW).moves, []);

  // Without a list, every agent; a2 is held whole.
  const all = await readInventory(pool, { now: NOW, policy: DEFAULT_LIFECYCLE_POLICY });
  assert.deepEqual([...new Set(all.days.map((c) => c.agentId))].sort(), ['a1', 'a2']);
  assert.ok(all.holds.some((h) => h.agentId === 'a2' && h.recordId === ''));
});

test('readInventory - memory usage: recalls in the window by any agent, and the hot memories', async () => {
  await pool.query(`ALTER TABLE memories ADD COLUMN IF NOT EXISTS tier text NOT NULL DEFAULT 'warm'`);
  const mem = async (memoryId: string, agent: string, tier: string, importance: number, lastAccessed: number | null) =>
    pool.query(`INSERT INTO memories (memory_id, agent_id, kind, text, importance, scope, version, created_at, updated_at, tier, last_accessed_at)
                VALUES ($1, $2, 'lesson', 't', $3, 'fleet', 1, $4, $4, $5, $6)`, [memoryId, agent, importance, ts(NOW - 30 * DAY_MS), tier, lastAccessed === null ? null : ts(lastAccessed)]);
  await mem('m-popular', 'a1', 'warm', 0.5, NOW - 60_000); // 2 recalls + 0.5 × 2 = 3: promoted
  await mem('m-old-hot', 'a1', 'hot', 0.9, NOW - 3 * DAY_MS);
  await mem('m-quiet', 'a1', 'warm', 0.9, null);
  await mem('m-other', 'a2', 'warm', 0.9, NOW - 60_000);
  const recall = (agent: string, at: number, ids: string[]) => pool.query(
    `INSERT INTO recalls (recall_id, agent_id, occurred_at, query_text, k, hits, stream_seq) VALUES ($1, $2, $3, 'q', 5, $4, 1)`,
    [id(at), agent, ts(at), JSON.stringify(ids.map((memoryId) => ({ memoryId, version: 1, score: 0.5, tier: 'warm' })))]);
  await recall('a1', NOW - 120_000, ['m-popular', 'm-other']);
  await recall('a2', NOW - 60_000, ['m-popular']); // another agent recalling a fleet memory counts
  await recall('a2', NOW - 2 * 3600_000, ['m-popular']); // outside the 60-minute window

  const inv = await readInventory(pool, { agents: ['a1'], now: NOW, policy: DEFAULT_LIFECYCLE_POLICY });
  assert.deepEqual(inv.notes, []);
  assert.deepEqual(inv.memories.sort((a, b) => a.memoryId.localeCompare(b.memoryId)), [
    { agentId: 'a1', memoryId: 'm-old-hot', tier: 'hot', importance: 0.9, accessesInWindow: 0, lastAccessedAt: NOW - 3 * DAY_MS },
    { agentId: 'a1', memoryId: 'm-popular', tier: 'warm', importance: 0.5, accessesInWindow: 2, lastAccessedAt: NOW - 60_000 },
  ]);
  const moves = planMoves(inv, DEFAULT_LIFECYCLE_POLICY, NOW).moves.filter((m) => m.data.kind === 'memory');
  assert.deepEqual(moves.map((m) => [m.data.recordIds[0], m.data.toTier]), [['m-old-hot', 'warm'], ['m-popular', 'hot']]);
});
