import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { FarmbrainError } from '@farmbrain/contracts';
import { COMMON_DEFAULTS, connectPostgres, migrate, quoteIdent, type Pool } from '@farmbrain/platform';
import { NotFoundError } from '../http/errors.js';
import { similarDecisions, similarDecisionsQuery } from './outcomes.js';
import { decisionContext } from './provenance.js';
import type { SimilarDecisionsRequest } from './types.js';

// Store-level test: rows are written directly with SQL into a fresh schema
// migrated with tiering's migrations, so every expected answer is known.
const MIGRATIONS = fileURLToPath(new URL('../../../../packages/store/migrations/', import.meta.url));
const schema = `oc_${randomBytes(6).toString('hex')}`;
const T0 = 1_700_000_000_000;
const at = (ms: number) => new Date(T0 + ms);
let pool: Pool;

/** Event ids by name. */
const id = new Map<string, string>();
const uid = (name: string): string => {
  let v = id.get(name);
  if (!v) id.set(name, (v = randomUUID()));
  return v;
};

let seq = 0;
async function decision(name: string, agentId: string, t: number, situation: number[], o: { symbol?: string; action?: string; memoryIds?: string[]; recallIds?: string[]; correlationId?: string } = {}) {
  seq += 1;
  await pool.query(
    `INSERT INTO decisions (event_id, agent_id, producer_seq, occurred_at, symbol, action, size, confidence, rationale,
                            situation, memory_ids, correlation_id, stream_seq, recall_ids)
     VALUES ($1, $2, $3, $4, $5, $6, 1, 0.5, $7, $8, $9, $10, $3, $11)`,
    [uid(name), agentId, seq, at(t), o.symbol ?? 'BTC', o.action ?? 'buy', `why ${name}`, situation, o.memoryIds ?? [], o.correlationId ?? '', o.recallIds ?? []],
  );
}

async function position(name: string, agentId: string, decisions: string[], p: { pnl?: number; opened: number; closed?: number; symbol?: string }) {
  const isClosed = p.closed !== undefined;
  await pool.query(
    `INSERT INTO positions (position_id, agent_id, symbol, status, qty, avg_price, fees, opened_at, closed_at, realized_pnl,
                            exit_price, decision_ids, trade_count, updated_seq)
     VALUES ($1, $2, $3, $4, 1, 100, 0, $5, $6, $7, $8, $9, 1, 1)`,
    [uid(name), agentId, p.symbol ?? `${name}-SYM`, isClosed ? 'closed' : 'open', at(p.opened), isClosed ? at(p.closed!) : null,
      isClosed ? p.pnl : null, isClosed ? 101 : null, decisions.map(uid)],
  );
}

const snapshot = (memoryId: string, agentId: string, version: number, text: string, forgotten: number | null = null) => ({
  memoryId, agentId, kind: 'lesson', text, tags: ['t'], importance: 0.5, scope: 'agent', scopeId: '', version,
  forgottenAt: forgotten === null ? null : at(forgotten).toISOString(),
});

async function memory(memoryId: string, agentId: string, versions: { t: number; text: string; op?: 'stored' | 'updated' | 'forgotten' }[]) {
  const last = versions[versions.length - 1]!;
  const forgotten = last.op === 'forgotten' ? last.t : null;
  await pool.query(
    `INSERT INTO memories (memory_id, agent_id, kind, text, importance, scope, version, created_at, updated_at, forgotten_at)
     VALUES ($1, $2, 'lesson', $3, 0.5, 'agent', $4, $5, $6, $7)`,
    [memoryId, agentId, last.text, versions.length, at(versions[0]!.t), at(last.t), forgotten === null ? null : at(forgotten)],
  );
  for (const [i, v] of versions.entries()) {
    await pool.query(
      `INSERT INTO memory_versions (event_id, memory_id, agent_id, version, op, occurred_at, snapshot) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [randomUUID(), memoryId, agentId, i + 1, v.op ?? (i === 0 ? 'stored' : 'updated'), at(v.t),
        snapshot(memoryId, agentId, i + 1, v.text, v.op === 'forgotten' ? v.t : null)],
    );
  }
}

async function recall(name: string, agentId: string, t: number, hits: { memoryId: string; version: number; score: number; tier: string }[], correlationId = '') {
  seq += 1;
  await pool.query(
    `INSERT INTO recalls (recall_id, agent_id, occurred_at, query_text, filters, k, hits, correlation_id, stream_seq)
     VALUES ($1, $2, $3, $4, '{"kinds":["lesson"]}', 5, $5, $6, $7)`,
    [uid(name), agentId, at(t), `query ${name}`, JSON.stringify(hits), correlationId, seq],
  );
}

before(async () => {
  const url = process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl;
  pool = await connectPostgres(url, schema, { max: 4, name: 'outcomes-int-test' });
  await migrate(pool, schema, MIGRATIONS);

  // --- similar decisions: a1 and a2 are a team, b1 is someone else. Query point: the origin.
  await decision('D1', 'a1', 1000, [1, 2, 2]); //          distance 3, closed +30, held 60 s
  await position('P1', 'a1', ['D1'], { pnl: 30, opened: 1000, closed: 61_000 });
  await decision('D2', 'a2', 2000, [0, 3, 4]); //          distance 5, closed -10, held 30 s
  await position('P2', 'a2', ['D2'], { pnl: -10, opened: 2000, closed: 32_000 });
  await decision('D3', 'a1', 3000, [3, 0, 4], { action: 'sell' }); // distance 5 (tie with D2, newer), break-even, held 10 s
  await position('P3', 'a1', ['D3'], { pnl: 0, opened: 3000, closed: 13_000 });
  await decision('D4', 'a1', 4000, [0, 0, 1]); //          distance 1, position still open
  await position('P4', 'a1', ['D4'], { opened: 4000 });
  await decision('D5', 'a1', 5000, [0, 0, 0.5], { action: 'hold' }); // distance 0.5, no position of its own...
  await position('PX', 'b1', ['D5'], { pnl: 99, opened: 5000, closed: 6000 }); // ...another agent's position citing it does not count
  await decision('D6', 'a1', 6000, [0, 0, 0, 0]); //       4 dimensions: ignored by 3-dim queries
  await position('P6', 'a1', ['D6'], { pnl: 1, opened: 6000, closed: 7000 });
  await decision('D7', 'a1', 7000, [2, 0, 0], { symbol: 'ETH' }); // distance 2, closed +50, held 20 s
  await position('P7', 'a1', ['D7'], { pnl: 50, opened: 7000, closed: 27_000, symbol: 'ETH' });
  await decision('D8', 'b1', 8000, [0, 0, 0]); //          distance 0, but b1 is not on the team
  await position('P8', 'b1', ['D8'], { pnl: 1000, opened: 8000, closed: 9000 });
  await decision('D9', 'a2', 9000, [6, 0, 8]); //          distance 10, two closed positions: +5 and +7, first open to last close 31 s
  await position('P9a', 'a2', ['D9'], { pnl: 5, opened: 9000, closed: 19_000 });
  await position('P9b', 'a2', ['D9', 'D9-close'], { pnl: 7, opened: 10_000, closed: 40_000 });
  await decision('D10', 'a1', 10_000, [0, 6, 8]); //       distance 10 (newer than D9), one of two positions open → open
  await position('P10a', 'a1', ['D10'], { pnl: 3, opened: 10_000, closed: 11_000 });
  await position('P10b', 'a1', ['D10'], { opened: 10_000 });

  // --- provenance: agent p1's decisions E1 (T0+1000), E2 (+3000), E3 (+8000), E4 (+9500), E5 (+9700).
  await memory('M1', 'p1', [{ t: 100, text: 'M1 as first written' }, { t: 5000, text: 'M1 rewritten later' }]);
  await memory('M2', 'p1', [{ t: 200, text: 'M2 soon forgotten' }, { t: 6000, text: 'M2 soon forgotten', op: 'forgotten' }]);
  await memory('M3', 'p1', [{ t: 9000, text: 'M3 came later' }]);
  await memory('MQ', 'q1', [{ t: 100, text: "q1's private note" }]);
  await recall('R1', 'p1', 500, [{ memoryId: 'M1', version: 1, score: 0.9, tier: 'hot' }, { memoryId: 'M2', version: 1, score: 0.5, tier: 'warm' }]);
  await recall('R2', 'p1', 2000, [{ memoryId: 'M1', version: 7, score: 0.4, tier: 'warm' }], 'corr-2');
  await recall('R3', 'p1', 2500, [], 'other');
  await recall('R4', 'p1', 4000, [{ memoryId: 'M2', version: 1, score: 0.3, tier: 'warm' }]);
  await recall('R5', 'p1', 8000, []);
  await recall('R6', 'p1', 9600, [{ memoryId: 'MQ', version: 1, score: 0.2, tier: 'warm' }], 'corr-4');
  await recall('RQ', 'q1', 2000, [], 'corr-2');
  await decision('E1', 'p1', 1000, [1]);
  await decision('E2', 'p1', 3000, [1], {
    memoryIds: ['M1', 'M2', 'M3', 'ghost'], recallIds: [uid('R1'), uid('RQ'), 'not-a-uuid'], correlationId: 'corr-2',
  });
  await decision('E3', 'p1', 8000, [1]);
  await decision('E4', 'p1', 9500, [1], { correlationId: 'corr-4' });
  await decision('E5', 'p1', 9700, [1], { memoryIds: ['MQ', 'M1'] });
  await decision('F1', 'q1', 3000, [1]);
});

after(async () => {
  await pool?.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool?.end();
});

const names = (ns: { decisionId: string }[]) => ns.map((n) => [...id].find(([, v]) => v === n.decisionId)?.[0] ?? n.decisionId);
const origin: SimilarDecisionsRequest = { situation: [0, 0, 0] };
const team = ['a1', 'a2'];

test('similarDecisions - nearest closed outcomes of the listed agents, ties newest first, exact distances and outcomes', async () => {
  const r = await similarDecisions(pool, team, origin);
  assert.deepEqual(names(r.neighbours), ['D7', 'D1', 'D3', 'D2', 'D9']);
  assert.deepEqual(r.neighbours.map((n) => n.distance), [2, 3, 5, 5, 10]);
  const [d7, d1, d3, d2, d9] = r.neighbours;
  assert.deepEqual(d7, {
    decisionId: uid('D7'), agentId: 'a1', symbol: 'ETH', action: 'buy', size: 1, confidence: 0.5, rationale: 'why D7',
    occurredAt: T0 + 7000, situation: [2, 0, 0], distance: 2,
    outcome: { status: 'closed', realizedPnl: 50, win: true, holdingMs: 20_000, positionIds: [uid('P7')] },
  });
  assert.deepEqual(d1!.outcome, { status: 'closed', realizedPnl: 30, win: true, holdingMs: 60_000, positionIds: [uid('P1')] });
  assert.deepEqual(d3!.outcome, { status: 'closed', realizedPnl: 0, win: null, holdingMs: 10_000, positionIds: [uid('P3')] });
  assert.deepEqual(d2!.outcome, { status: 'closed', realizedPnl: -10, win: false, holdingMs: 30_000, positionIds: [uid('P2')] });
  assert.deepEqual(d9!.outcome, { status: 'closed', realizedPnl: 12, win: true, holdingMs: 31_000, positionIds: [uid('P9a'), uid('P9b')] });

  // P&L 50, 30, 0, -10, 12: mean 16.4, squared deviations sum 2299.2 → sample variance 574.8.
  const s = r.stats;
  assert.equal(s.n, 5);
  assert.equal(s.wins, 3);
  assert.equal(s.losses, 1);
  assert.equal(s.winRate, 0.6);
  assert.ok(Math.abs(s.meanPnl! - 16.4) < 1e-9);
  assert.ok(Math.abs(s.stdevPnl! - Math.sqrt(574.8)) < 1e-9);
  assert.equal(s.medianPnl, 12);
  assert.equal(s.minPnl, -10);
  assert.equal(s.maxPnl, 50);
  assert.equal(s.meanHoldingMs, 30_200);
});

test('similarDecisions - includeOpen adds open outcomes with nulls; decisions without a position never appear', async () => {
  const r = await similarDecisions(pool, team, { ...origin, includeOpen: true });
  assert.deepEqual(names(r.neighbours), ['D4', 'D7', 'D1', 'D3', 'D2', 'D10', 'D9']);
  assert.deepEqual(r.neighbours[0]!.outcome, { status: 'open', realizedPnl: null, win: null, holdingMs: null, positionIds: [uid('P4')] });
  const d10 = r.neighbours[5]!;
  assert.equal(d10.outcome.status, 'open', 'one of its two positions is still open');
  assert.equal(d10.outcome.realizedPnl, null);
  assert.equal(d10.outcome.positionIds.length, 2);
  assert.equal(r.stats.n, 5, 'stats count realized outcomes only');
  assert.equal(r.stats.winRate, 0.6);
});

test('similarDecisions - k, symbol, time window, dimension, and whose decisions', async () => {
  assert.deepEqual(names((await similarDecisions(pool, team, { ...origin, k: 2 })).neighbours), ['D7', 'D1']);
  assert.deepEqual(names((await similarDecisions(pool, team, { ...origin, symbol: 'ETH' })).neighbours), ['D7']);
  assert.deepEqual(names((await similarDecisions(pool, team, { ...origin, symbol: 'BTC' })).neighbours), ['D1', 'D3', 'D2', 'D9']);
  assert.deepEqual(names((await similarDecisions(pool, team, { ...origin, symbol: 'SOL' })).neighbours), []);
  // since inclusive, until exclusive; ISO or epoch ms.
  const window = await similarDecisions(pool, team, { ...origin, since: at(2000).toISOString(), until: T0 + 9000 });
  assert.deepEqual(names(window.neighbours), ['D7', 'D3', 'D2']);
  assert.deepEqual(names((await similarDecisions(pool, team, { ...origin, since: String(T0 + 2001) })).neighbours), ['D7', 'D3', 'D9']);
  // Only decisions with a situation of the query's dimension.
  const four = await similarDecisions(pool, team, { situation: [0, 0, 0, 1] });
  assert.deepEqual(names(four.neighbours), ['D6']);
  assert.equal(four.neighbours[0]!.distance, 1);
  // The agent alone; someone else alone; the team never sees b1.
  assert.deepEqual(names((await similarDecisions(pool, ['a1'], origin)).neighbours), ['D7', 'D1', 'D3']);
  assert.deepEqual(names((await similarDecisions(pool, ['b1'], origin)).neighbours), ['D8']);
  const all = await similarDecisions(pool, team, { ...origin, k: 200, includeOpen: true });
  assert.ok(all.neighbours.every((n) => n.agentId !== 'b1'));
  assert.deepEqual(await similarDecisions(pool, [], origin), { neighbours: [], stats: { n: 0, wins: 0, losses: 0, winRate: null, meanPnl: null, stdevPnl: null, medianPnl: null, minPnl: null, maxPnl: null, meanHoldingMs: null } });
  await assert.rejects(similarDecisions(pool, team, { ...origin, until: 'not a time' }), (e: unknown) => e instanceof FarmbrainError && e.code === 'INVALID_REQUEST');
});

test('similarDecisions - the positions lookup can use the GIN index on decision_ids', async () => {
  // Enough unrelated positions that the index is worth it, then make sure the
  // plan probes positions_decisions (seq scans off: we check usability, not cost).
  await pool.query(
    `INSERT INTO positions (position_id, agent_id, symbol, status, qty, avg_price, fees, opened_at, closed_at, realized_pnl,
                            exit_price, decision_ids, trade_count, updated_seq)
     SELECT gen_random_uuid(), 'filler', 'F', 'closed', 1, 1, 0, now(), now(), 1, 1, ARRAY[gen_random_uuid()::text], 1, 1
       FROM generate_series(1, 20000)`,
  );
  await pool.query('ANALYZE positions');
  const q = similarDecisionsQuery(team, origin)!;
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SET LOCAL enable_seqscan = off');
    const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.text}`, q.values)).rows.map((r) => r['QUERY PLAN']).join('\n');
    await c.query('ROLLBACK');
    assert.match(plan, /Bitmap Index Scan on positions_decisions/, plan);
  } finally {
    c.release();
  }
  // The answer is unchanged by the filler.
  assert.deepEqual(names((await similarDecisions(pool, team, origin)).neighbours), ['D7', 'D1', 'D3', 'D2', 'D9']);
});

test('decisionContext - cited memories as they were, recalls by recall id and correlation id', async () => {
  const ctx = await decisionContext(pool, 'p1', uid('E2'));
  assert.deepEqual(ctx.decision, {
    decisionId: uid('E2'), agentId: 'p1', symbol: 'BTC', action: 'buy', occurredAt: T0 + 3000, rationale: 'why E2',
    memoryIds: ['M1', 'M2', 'M3', 'ghost'], recallIds: [uid('R1'), uid('RQ'), 'not-a-uuid'], correlationId: 'corr-2',
  });
  // R1 by recall id, R2 by correlation id; RQ (q1's) and R3 (other correlation) are not this decision's.
  assert.deepEqual(ctx.recalls.map((r) => r.recallId), [uid('R1'), uid('R2')]);
  const [r1, r2] = ctx.recalls;
  assert.equal(r1!.occurredAt, T0 + 500);
  assert.equal(r1!.query, 'query R1');
  assert.deepEqual(r1!.filters, { kinds: ['lesson'] });
  assert.equal(r1!.k, 5);
  assert.deepEqual(r1!.hits.map((h) => [h.memoryId, h.version, h.score, h.tier, h.memory?.text]), [
    ['M1', 1, 0.9, 'hot', 'M1 as first written'],
    ['M2', 1, 0.5, 'warm', 'M2 soon forgotten'],
  ]);
  assert.deepEqual(r2!.hits, [{ memoryId: 'M1', version: 7, score: 0.4, tier: 'warm', memory: null }], 'unknown version → null memory');

  const cited = Object.fromEntries(ctx.citedMemories.map((m) => [m.memoryId, m]));
  assert.deepEqual(ctx.citedMemories.map((m) => m.memoryId), ['M1', 'M2', 'M3', 'ghost']);
  assert.equal(cited.M1!.version, 1);
  assert.equal(cited.M1!.memory.text, 'M1 as first written');
  assert.equal(cited.M1!.currentVersion, 2);
  assert.equal(cited.M1!.changedSince, true);
  assert.equal(cited.M1!.forgottenSince, false);
  assert.equal(cited.M2!.version, 1);
  assert.equal(cited.M2!.memory.forgottenAt, null, 'not yet forgotten when cited');
  assert.equal(cited.M2!.forgottenSince, true);
  assert.equal(cited.M2!.changedSince, true);
  assert.deepEqual(cited.M3, { memoryId: 'M3', version: 0, memory: {}, currentVersion: 1, changedSince: true, forgottenSince: false });
  assert.deepEqual(cited.ghost, { memoryId: 'ghost', version: 0, memory: {}, currentVersion: null, changedSince: false, forgottenSince: false });
});

test('decisionContext - without links, the recalls since the previous decision', async () => {
  // E3: nothing cited → recalls in (E2, E3]: R4, and R5 at exactly E3's time.
  const e3 = await decisionContext(pool, 'p1', uid('E3'));
  assert.deepEqual(e3.recalls.map((r) => r.recallId), [uid('R4'), uid('R5')]);
  assert.equal(e3.recalls[0]!.hits[0]!.memory?.text, 'M2 soon forgotten');
  assert.deepEqual(e3.citedMemories, []);
  // E1: the first decision → every recall up to it.
  assert.deepEqual((await decisionContext(pool, 'p1', uid('E1'))).recalls.map((r) => r.recallId), [uid('R1')]);
  // E4: its correlation id only matches a later recall, and nothing happened since E3.
  assert.deepEqual((await decisionContext(pool, 'p1', uid('E4'))).recalls, []);
});

test('decisionContext - readable owner keys withhold other owners\' memories', async () => {
  const open = await decisionContext(pool, 'p1', uid('E5'));
  assert.equal(open.citedMemories[0]!.memory.text, "q1's private note");
  assert.equal(open.recalls[0]!.hits[0]!.memory?.text, "q1's private note");
  const own = await decisionContext(pool, 'p1', uid('E5'), { readableOwnerKeys: ['agent:p1', 'fleet'] });
  assert.deepEqual(own.recalls.map((r) => r.recallId), [uid('R6')]);
  assert.equal(own.recalls[0]!.hits[0]!.memory, null);
  assert.deepEqual(own.citedMemories[0], { memoryId: 'MQ', version: 0, memory: {}, currentVersion: null, changedSince: false, forgottenSince: false });
  assert.equal(own.citedMemories[1]!.memory.text, 'M1 rewritten later');
  assert.equal(own.citedMemories[1]!.changedSince, false);
});

test('decisionContext - another agent\'s or an unknown decision is not found', async () => {
  const notFound = (e: unknown) => e instanceof NotFoundError && e.code === 'NOT_FOUND';
  await assert.rejects(decisionContext(pool, 'q1', uid('E2')), notFound);
  await assert.rejects(decisionContext(pool, 'p1', uid('F1')), notFound);
  await assert.rejects(decisionContext(pool, 'p1', randomUUID()), notFound);
  await assert.rejects(decisionContext(pool, 'p1', 'not-a-uuid'), notFound);
});
