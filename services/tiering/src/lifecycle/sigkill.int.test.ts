import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { archiveSchema } from '@farmbrain/archive';
import type { FarmEvent, PayloadInput } from '@farmbrain/contracts';
import { connectPostgres, COMMON_DEFAULTS, createLogger, type Pool } from '@farmbrain/platform';
import { DAY_MS, parseLifecyclePolicy, planMoves, previewOptimize, publishMoves, readInventory, runOptimize, utcDay, type OptimizeDeps } from '@farmbrain/lifecycle';
import { sha256Hex } from '@farmbrain/store';
import { makeEvent, publishEvents, TestStack, waitFor } from '@farmbrain/testing';

/**
 * Done-when: SIGKILL of tiering or of the archive in the middle of the moves
 * loses and duplicates nothing. Four agents publish 40 days of decisions and
 * trades (old times); the policies move them under a clock the test sets, in
 * two phases: the planner's moves at D-4 days with tiering killed while it
 * applies them, then an optimize run at D (retention, compaction of a day that
 * got late rows) with the archive service, then tiering, killed while the moves
 * are applied. After restarts, per agent, kind and day: warm rows + records in
 * cold and archive blocks = what was published, except the days retention
 * deleted on purpose, whose records are all in tombstones; no id is in two
 * places; every archive-tier block's object is in the store with its sha256;
 * the archive holds every canonical message once.
 */
const POLICY = parseLifecyclePolicy(JSON.stringify({
  decision: { coldAfterDays: 3, archiveAfterDays: 12, deleteAfterDays: 30 },
  trade: { coldAfterDays: 3, archiveAfterDays: 12, deleteAfterDays: 30 },
}), 'test');
const stack = new TestStack({
  archive: true,
  partitions: 2,
  env: { FB_LIFECYCLE: 'false', FB_MAX_PAST_SKEW_MS: String(400 * DAY_MS), FB_TIERING_BATCH: '4' },
});
const log = createLogger('sigkill-test', 'silent');
let archivePool: Pool;

before(async () => {
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering');
  await stack.start('archive');
  archivePool = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, archiveSchema(stack.names), { max: 2 });
});
after(async () => {
  await archivePool?.end();
  await stack.destroy();
});

const D = utcDay(Date.now());
const AGENTS = ['sk-a', 'sk-b', 'sk-c', 'sk-d'];
const DAYS = Array.from({ length: 40 }, (_, i) => i + 1);
const PER_DAY: { decision: number; trade: number } = { decision: 20, trade: 6 };
const LATE_DAY = 10; // cold after phase 1 and phase 2: late rows make it two blocks, compacted in phase 2
let seq = 0;
const ev = <T extends FarmEvent['type']>(agentId: string, type: T, at: number, data: PayloadInput<T>) => makeEvent(agentId, type, data, { producerSeq: ++seq, occurredAt: at });
/** Published ids per agent|kind|dayMs. */
const published = new Map<string, Set<string>>();
const cell = (agentId: string, kind: string, dayMs: number) => `${agentId}|${kind}|${dayMs}`;
const note = (e: FarmEvent, kind: string) => {
  const k = cell(e.agentId, kind, utcDay(e.occurredAt));
  published.set(k, (published.get(k) ?? new Set()).add(e.eventId));
};
function day(agentId: string, k: number, n = PER_DAY): FarmEvent[] {
  const out: FarmEvent[] = [];
  const base = D - k * DAY_MS + 3600_000;
  for (let i = 0; i < n.decision; i++) {
    const e = ev(agentId, 'decision_made', base + i * 60_000 + seq, { symbol: ['BTC', 'ETH', 'SOL'][i % 3]!, action: i % 2 ? 'buy' : 'sell', size: 1, confidence: 0.5 + (i % 5) / 10, rationale: `signal ${i % 7}`, situation: [i % 3, 0.5], memoryIds: [] });
    note(e, 'decision');
    out.push(e);
  }
  for (let i = 0; i < n.trade; i++) {
    const e = ev(agentId, 'trade_executed', base + 30_000 + i * 60_000 + seq, { orderId: `o-${seq}`, symbol: 'BTC', side: 'buy', qty: 1, price: 100 + i, fees: 0.1, decisionId: '' });
    note(e, 'trade');
    out.push(e);
  }
  return out;
}
async function publish(events: FarmEvent[]): Promise<void> {
  const byAgent = new Map<string, FarmEvent[]>();
  for (const e of events) byAgent.set(e.agentId, [...(byAgent.get(e.agentId) ?? []), e]);
  await Promise.all([...byAgent.values()].map(async (evs) => {
    for (let i = 0; i < evs.length; i += 200) await publishEvents(stack.js, stack.names, evs.slice(i, i + 200));
  }));
  await stack.caughtUp(120_000);
}
const movesApplied = async () => Number((await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM lifecycle_moves')).rows[0]!.n);

/** Polls the applied moves; when between `from` (excluded) and `to` (excluded), runs `kill` and returns the count then. */
async function killMidway(from: number, to: number, kill: () => Promise<unknown>): Promise<number> {
  const n = await waitFor(`moves being applied (${from} < n < ${to})`, async () => {
    const k = await movesApplied();
    if (k >= to) throw new Error(`every move was applied before the kill (${k}); the kill must hit mid-move`);
    return k > from ? k : undefined;
  }, 60_000, 5);
  await kill();
  return n;
}

test('lifecycle - SIGKILL of tiering or the archive mid-move loses and duplicates nothing', async (t) => {
  for (const a of AGENTS) await publish([ev(a, 'agent_registered', D - 45 * DAY_MS, { name: a, team: 'ops' }), ...DAYS.flatMap((k) => day(a, k))]);

  // ---- phase 1: the planner at D-4 days; tiering is killed while it applies the moves ----
  const now1 = D - 4 * DAY_MS + 60_000;
  const plan1 = planMoves(await readInventory(stack.pool, { now: now1, policy: POLICY }), POLICY, now1);
  assert.ok(plan1.moves.length > 200, `${plan1.moves.length} moves`);
  const base1 = await movesApplied();
  await publishMoves(stack.js, stack.names, plan1.moves);
  const at1 = await killMidway(base1, base1 + plan1.moves.length, () => stack.kill('tiering', 'SIGKILL'));
  t.diagnostic(`phase 1: tiering killed with ${at1 - base1} of ${plan1.moves.length} moves applied`);
  await stack.start('tiering');
  await stack.caughtUp(120_000);
  assert.equal(await movesApplied(), base1 + plan1.moves.length, 'every move of phase 1 applied once');

  // Late rows for a day already cold: a second block of that day.
  await publish(AGENTS.slice(0, 2).flatMap((a) => day(a, LATE_DAY, { decision: 3, trade: 0 })));

  // ---- phase 2: an optimize run at D; the archive, then tiering, are killed while the moves are applied ----
  const deps: OptimizeDeps = {
    pool: stack.pool, js: stack.js, names: stack.names, projection: 'tiering.v1', policy: POLICY, archive: true,
    hot: { redis: stack.redis, prefix: stack.names.redisPrefix }, timeoutMs: 180_000, log,
  };
  const now2 = D + 60_000;
  const preview = await previewOptimize(deps, { now: now2, steps: ['retention', 'compaction'] });
  const total2 = preview.steps.find((s) => s.step === 'retention')!.actions;
  const compactions = preview.steps.find((s) => s.step === 'compaction')!.actions;
  assert.equal(compactions, 2, 'the late day of two agents is compacted');
  const base2 = await movesApplied();
  const run = runOptimize(deps, { now: now2, steps: ['retention', 'compaction'] });
  const at2 = await killMidway(base2, base2 + total2, () => stack.kill('archive', 'SIGKILL'));
  let at3: number | undefined;
  try {
    at3 = await killMidway(at2, base2 + total2, () => stack.kill('tiering', 'SIGKILL'));
  } catch (err) {
    t.diagnostic(`phase 2: tiering not killed mid-move (${(err as Error).message})`);
  }
  t.diagnostic(`phase 2: archive killed with ${at2 - base2} of ${total2} moves applied; tiering killed ${at3 === undefined ? 'after them' : `with ${at3 - base2}`}`);
  if (at3 !== undefined) await stack.start('tiering');
  await stack.start('archive');
  const report = await run;
  assert.deepEqual(report.steps.filter((s) => s.step === 'retention' || s.step === 'compaction').map((s) => [s.step, s.status, s.actions, s.refused.length]),
    [['retention', 'done', total2, 0], ['compaction', 'done', 2, 0]]);
  await stack.caughtUp(120_000);
  assert.equal(await movesApplied(), base2 + total2 + compactions, 'every move of phase 2 applied once');

  // ---- the accounting ----
  const where = new Map<string, string[]>(); // id → places
  const put = (id: string, place: string) => where.set(id, [...(where.get(id) ?? []), place]);
  const counts = new Map<string, { live: number; deleted: number; tiers: Set<string> }>();
  const count = (k: string, tier: string, n: number) => {
    const c = counts.get(k) ?? { live: 0, deleted: 0, tiers: new Set() };
    if (tier === 'deleted') c.deleted += n;
    else c.live += n;
    c.tiers.add(tier);
    counts.set(k, c);
  };
  for (const [kind, table] of [['decision', 'decisions'], ['trade', 'trades']] as const) {
    const rows = await stack.pool.query<{ id: string; agent_id: string; at: Date }>(`SELECT event_id::text AS id, agent_id, occurred_at AS at FROM ${table}`);
    for (const r of rows.rows) {
      put(r.id, 'warm');
      count(cell(r.agent_id, kind, utcDay(r.at.getTime())), 'warm', 1);
    }
  }
  const blocks = await stack.pool.query<{ block_id: string; agent_id: string; kind: string; day_ms: string; tier: string; ids: string[]; archive_key: string | null; sha256: string; payload: Buffer | null }>(
    `SELECT block_id::text, agent_id, kind, (extract(epoch FROM day::timestamp) * 1000)::bigint AS day_ms, tier, event_ids::text[] AS ids, archive_key, sha256, payload FROM cold_blocks`);
  for (const b of blocks.rows) {
    for (const id of b.ids) put(id, `${b.tier}:${b.block_id}`);
    count(cell(b.agent_id, b.kind, Number(b.day_ms)), b.tier, b.ids.length);
    if (b.tier === 'archive') {
      assert.equal(b.payload, null);
      assert.equal(sha256Hex(await readFile(join(stack.archiveDir!, b.archive_key!))), b.sha256, `archive object of block ${b.block_id}`);
    }
    if (b.tier === 'cold') assert.equal(sha256Hex(b.payload!), b.sha256);
  }
  const twice = [...where].filter(([, places]) => places.length > 1);
  assert.deepEqual(twice.slice(0, 5), [], `${twice.length} ids in two places`);
  for (const [k, ids] of published) {
    const [, kind, dayMs] = k.split('|');
    const age = Math.round((D - Number(dayMs)) / DAY_MS);
    const c = counts.get(k);
    const tier = age >= 31 ? 'deleted' : age >= 13 ? 'archive' : age >= 4 ? 'cold' : 'warm';
    if (tier === 'deleted') assert.deepEqual(c && { live: c.live, deleted: c.deleted }, { live: 0, deleted: ids.size }, `${k}: deleted by retention, every record in a tombstone`);
    else assert.deepEqual(c && { live: c.live, deleted: c.deleted }, { live: ids.size, deleted: 0 }, `${k}: every record published, none deleted`);
    assert.deepEqual([...c!.tiers], [tier], `${k} (${kind}, ${age} days old) is all in ${tier}`);
    for (const id of ids) assert.ok(where.has(id), `${id} of ${k} is somewhere`);
  }
  assert.equal(where.size, [...published.values()].reduce((n, s) => n + s.size, 0), 'no record that was not published');
  // The late day: one cold block per agent once compacted.
  for (const a of AGENTS.slice(0, 2)) {
    assert.equal(blocks.rows.filter((b) => b.agent_id === a && b.kind === 'decision' && Number(b.day_ms) === D - LATE_DAY * DAY_MS).length, 1, `${a}: the late day is one block`);
  }
  // Deleted blocks' objects are gone from the store, none left queued.
  assert.equal(Number((await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM archive_removals')).rows[0]!.n), 0);

  // ---- the archive: every canonical message once ----
  const info = await stack.jsm.streams.info(stack.names.eventsStream);
  await waitFor('the archive to hold every canonical message', async () => {
    const r = await archivePool.query<{ n: string }>(`SELECT (SELECT count(*) FROM archive_pending) + (SELECT coalesce(sum(messages), 0) FROM archive_segments) AS n`);
    return Number(r.rows[0]!.n) === info.state.messages;
  }, 60_000, 100);
  const overlap = await archivePool.query<{ n: string }>(
    `SELECT count(*) AS n FROM archive_pending p JOIN archive_segments s ON s.partition = p.partition AND p.stream_seq > s.after_seq AND p.stream_seq <= s.last_seq`);
  assert.equal(Number(overlap.rows[0]!.n), 0, 'no message both pending and sealed');
  const segs = await archivePool.query<{ n: string }>(
    `SELECT count(*) AS n FROM archive_segments a JOIN archive_segments b ON a.partition = b.partition AND a.first_seq < b.first_seq AND b.after_seq < a.last_seq`);
  assert.equal(Number(segs.rows[0]!.n), 0, 'no two segments overlap');
});
