import { decisionContext } from './memory/provenance.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { derivedEventId, type FarmEvent, type PayloadInput } from '@farmbrain/contracts';
import { connectPostgres, COMMON_DEFAULTS, createLogger, type Pool } from '@farmbrain/platform';
import { HotView, sha256Hex } from '@farmbrain/store';
import { makeEvent, publishEvents, TestStack } from '@farmbrain/testing';
import { parseLifecyclePolicy, planMoves, publishMoves, readInventory, waitApplied } from '@farmbrain/lifecycle';
import { errorHandler } from './http/errorHandler.js';
import { AgentDirectory } from './read/agentDirectory.js';
import { AgentStateReader } from './read/agentState.js';
import { ReadStore } from './read/readStore.js';
import { agentRoutes } from './routes/agents.js';
import { lifecycleRoutes } from './routes/lifecycle.js';

/**
 * Reads are transparent across tiers: the log moves an agent's decision, trade,
 * checkpoint and recall warm → cold → archive → deleted (records_moved events,
 * applied by the tiering service), and at each tier the gateway's listings and
 * GET /v1/records/:id give back the same record, naming the tier; explain says
 * where a record is and which move (policy, reason) took it there; a legal hold
 * keeps a record from deletion; a duplicate of a moved event stays out of warm;
 * and a blue/green rebuild of the whole log makes the same blocks.
 *
 * The read routes run in-process over the stack's Postgres, with the archive
 * store over the stack's archive folder (what main.ts wires from FB_ARCHIVE_URL).
 */
const stack = new TestStack({ archive: true, env: { FB_LIFECYCLE: 'false', FB_MAX_PAST_SKEW_MS: String(100 * 86_400_000) } });
const CLI = fileURLToPath(new URL('../../../apps/cli/dist/main.js', import.meta.url));
const pools: Pool[] = [];
type App = Awaited<ReturnType<typeof readApp>>;
let app: App;
let reads: ReadStore;

async function readApp(reads: ReadStore) {
  const a = Fastify({ ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } } }).withTypeProvider<TypeBoxTypeProvider>();
  a.setErrorHandler(errorHandler(1 << 20));
  await a.register(agentRoutes, { reads });
  await a.register(lifecycleRoutes, { reads });
  return a;
}

before(async () => {
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering');
  const log = createLogger('lifecycle-test', 'silent');
  const hot = new HotView(stack.redis, stack.names.redisPrefix, { decisions: 10, memories: 10 });
  const archiveDir = stack.archiveDir!;
  reads = new ReadStore(stack.pool, new AgentStateReader(stack.pool, hot, log), new AgentDirectory(stack.pool, { ttlMs: 0 }), {
    archive: { get: (key) => readFile(join(archiveDir, key)) },
  });
  app = await readApp(reads);
});
after(async () => {
  await app?.close();
  await Promise.all(pools.map((p) => p.end()));
  await stack.destroy();
});

const get = async <T = Record<string, unknown>>(url: string) => {
  const r = await app.inject({ method: 'GET', url });
  return { status: r.statusCode, body: r.json() as T };
};
type Item = Record<string, unknown> & { tier: string };
const withoutTier = ({ tier: _t, ...rest }: Item) => rest;

const A = 'lc-reader';
const DAY = 86_400_000;
// Every record of one UTC day (a minute ago, unless that is across midnight).
let base = Date.now() - 60_000;
if (Math.floor(base / DAY) !== Math.floor((base + 20_000) / DAY)) base -= 30_000;
const dayMs = Math.floor(base / DAY) * DAY;
let seq = 0;
const ev = <T extends Parameters<typeof makeEvent>[1]>(type: T, data: PayloadInput<T>, dt: number): FarmEvent => makeEvent(A, type, data, { producerSeq: ++seq, occurredAt: base + dt });
const move = (data: PayloadInput<'records_moved'>): FarmEvent => {
  const at = Date.now();
  return makeEvent(A, 'records_moved', data, { producerSeq: ++seq, occurredAt: at, eventId: derivedEventId(at, `${A}/${JSON.stringify(data)}`) });
};
const publish = async (events: FarmEvent[], msgID?: string) => {
  await publishEvents(stack.js, stack.names, events, msgID);
  await stack.caughtUp();
};
const deadLetter = async (eventId: string) =>
  (await stack.pool.query<{ code: string }>('SELECT code FROM projection_dead_letters WHERE event_id = $1', [eventId])).rows[0]?.code;

const reg = ev('agent_registered', { name: 'Reader', team: 'ops' }, 0);
const mem = ev('memory_stored', { memoryId: `${A}-m1`, kind: 'lesson', text: 'trail the stop', tags: ['BTC'] }, 100);
const r1 = ev('memory_recalled', { queryText: 'stops', queryVector: [0.5, -0.25], filters: { tags: ['BTC'] }, k: 3, hits: [{ memoryId: `${A}-m1`, version: 1, score: 0.7, tier: 'warm' }] }, 200);
const d1 = ev('decision_made', { symbol: 'BTC', action: 'buy', size: 0.25, confidence: 0.62, rationale: 'breakout', situation: [0.4, -0.2, 0.05, 0.61], memoryIds: [`${A}-m1`], recallIds: [r1.eventId] }, 1000);
const t1 = ev('trade_executed', { orderId: 'o-1', symbol: 'BTC', side: 'buy', qty: 0.25, price: 61234.5, fees: 1.53, decisionId: d1.eventId }, 1100);
const c1 = ev('checkpoint_saved', { label: 'tick', state: new TextEncoder().encode('{"pos":{"BTC":0.25}}') }, 1200);
const d2 = ev('decision_made', { symbol: 'ETH', action: 'hold', size: 0, confidence: 0.5, rationale: 'flat', situation: [0.1, 0.2, 0.3, 0.4] }, 2000);
const d3 = ev('decision_made', { symbol: 'BTC', action: 'hold', size: 0, confidence: 0.7, rationale: 'holding', situation: [0.5, -0.1, 0.05, 0.66] }, 3000);

/** What the gateway shows of the agent: its listings, each record by id, the checkpoint with its state. */
async function shown() {
  const page = async (path: string) => (await get<{ items: Item[]; nextCursor: string | null }>(`/v1/agents/${A}/${path}`)).body.items;
  const records: Record<string, { status: number; body: Record<string, unknown> }> = {};
  for (const e of [d1, d2, d3, t1, c1, r1]) records[e.eventId] = await get(`/v1/records/${e.eventId}`);
  return {
    decisions: await page('decisions'), trades: await page('trades'), checkpoints: await page('checkpoints'),
    checkpoint: (await get<Item>(`/v1/agents/${A}/checkpoints/${c1.eventId}`)).body, records,
    // Provenance: what d1 recalled and cited, as it was then, whatever tier d1 and its recall are in now.
    // (the function the context route answers with, over the same record reader)
    context: await decisionContext(stack.pool, A, d1.eventId, { records: { record: (id) => reads.record(id) } })
      .then((body) => ({ status: 200, body }), (err: { code?: string }) => ({ status: err.code === 'NOT_FOUND' ? 404 : 500, body: err })),
  };
}

test('lifecycle - reads across tiers give back the same records, named by tier; explain, holds, duplicates and a rebuild agree', async () => {
  await publish([reg, mem, r1, d1, t1, c1, d2, d3]);
  const warm = await shown();
  assert.deepEqual(warm.decisions.map((d) => [d.decisionId, d.tier]), [[d3.eventId, 'warm'], [d2.eventId, 'warm'], [d1.eventId, 'warm']]);
  assert.equal(warm.records[r1.eventId]!.body.kind, 'recall');

  // Paging across tiers: one page of each size gives the same sequence.
  const pages = async () => {
    const out: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const r: { body: { items: Item[]; nextCursor: string | null } } = await get(`/v1/agents/${A}/decisions?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      out.push(...r.body.items.map((i) => String(i.decisionId)));
      cursor = r.body.nextCursor;
    }
    return out;
  };

  /** At a tier, everything reads as in warm, the tier aside. */
  const sameAsWarm = async (tiers: Record<string, string>, when: string) => {
    const now = await shown();
    for (const k of ['decisions', 'trades', 'checkpoints'] as const) {
      assert.deepEqual(now[k].map(withoutTier), warm[k].map(withoutTier), `${when}: ${k} read as in warm`);
    }
    assert.deepEqual(withoutTier(now.checkpoint), withoutTier(warm.checkpoint), `${when}: the checkpoint with its state`);
    assert.equal(now.context.status, 200, `${when}: decision context ${JSON.stringify(now.context.body)}`);
    assert.deepEqual(now.context.body, warm.context.body, `${when}: the decision's context (its recall and cited memory as they were) reads as in warm`);
    for (const [id, r] of Object.entries(now.records)) {
      assert.equal(r.status, 200, `${when}: record ${id}`);
      assert.deepEqual({ ...r.body, tier: '' }, { ...warm.records[id]!.body, tier: '' }, `${when}: record ${id} reads as in warm`);
      assert.equal(r.body.tier, tiers[r.body.kind as string], `${when}: record ${id} names its tier`);
    }
    assert.deepEqual(await pages(), warm.decisions.map((d) => d.decisionId), `${when}: paging one by one`);
  };

  // warm → cold, every kind, by day.
  const toCold = (['decision', 'trade', 'checkpoint', 'recall'] as const).map((kind) =>
    move({ kind, fromTier: 'warm', toTier: 'cold', dayMs, recordIds: [], policy: `${kind}.coldAfterDays`, reason: `${kind}s of that day are older than 0 days` }));
  await publish(toCold);
  await sameAsWarm({ decision: 'cold', trade: 'cold', checkpoint: 'cold', recall: 'cold' }, 'cold');
  const ex = await get<Record<string, unknown>>(`/v1/lifecycle/explain/${d1.eventId}`);
  assert.equal(ex.status, 200);
  assert.deepEqual([ex.body.tier, ex.body.kind, ex.body.agentId, ex.body.occurredAt], ['cold', 'decision', A, new Date(d1.occurredAt).toISOString()]);
  assert.deepEqual((ex.body.history as Record<string, unknown>[]).map((h) => [h.moveId, h.fromTier, h.toTier, h.policy, h.reason]),
    [[toCold[0]!.eventId, 'warm', 'cold', 'decision.coldAfterDays', 'decisions of that day are older than 0 days']]);
  assert.equal(ex.body.legalHold, null);

  // A duplicate of moved events (a retry days later, under a new message id): it stays out of warm.
  await publish([{ ...d1 }, { ...t1 }, { ...r1 }] as FarmEvent[], 'dup-of-moved-events');
  const warmCount = (await stack.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM decisions) + (SELECT count(*) FROM trades) + (SELECT count(*) FROM recalls) AS n')).rows[0]!.n;
  assert.equal(Number(warmCount), 0, 'no moved record is back in warm');
  assert.equal((await shown()).decisions.length, 3, 'listed once');

  // cold → archive: the bytes go to the archive store (tiering's, from FB_ARCHIVE_URL), read back from it.
  const toArchive = move({ kind: 'decision', fromTier: 'cold', toTier: 'archive', dayMs, recordIds: [], policy: 'decision.archiveAfterDays', reason: 'older than 0 days' });
  await publish([toArchive]);
  assert.equal(await deadLetter(toArchive.eventId), undefined, 'tiering applied the move to the archive');
  const objects = await stack.pool.query<{ archive_key: string; sha256: string }>(`SELECT archive_key, sha256 FROM cold_blocks WHERE agent_id = $1 AND tier = 'archive'`, [A]);
  assert.equal(objects.rows.length, 1);
  assert.equal(sha256Hex(await readFile(join(stack.archiveDir!, objects.rows[0]!.archive_key))), objects.rows[0]!.sha256, 'the block object is in the archive store');
  await sameAsWarm({ decision: 'archive', trade: 'cold', checkpoint: 'cold', recall: 'cold' }, 'archive');
  const tier = 'archive';

  // A legal hold on d1, then retention: d1 stays, d2 and d3 are deleted (tombstones, not listed, 410 by id).
  await publish([makeEvent(A, 'legal_hold_changed', { held: true, recordIds: [d1.eventId], reason: 'audit 7', operator: 'ops' }, { producerSeq: ++seq, occurredAt: Date.now() })]);
  const retention = move({ kind: 'decision', fromTier: tier, toTier: 'deleted', dayMs, recordIds: [], policy: 'decision.deleteAfterDays', reason: 'older than 0 days' });
  await publish([retention]);
  assert.equal(await deadLetter(retention.eventId), undefined);
  const after = await shown();
  assert.deepEqual(after.decisions.map((d) => [d.decisionId, d.tier]), [[d1.eventId, tier]]);
  assert.deepEqual(withoutTier(after.decisions[0]!), withoutTier(warm.decisions[2]!));
  for (const gone of [d2, d3]) {
    const r = await get<{ error: { code: string; message: string } }>(`/v1/records/${gone.eventId}`);
    assert.equal(r.status, 410);
    assert.equal(r.body.error.code, 'RECORD_DELETED');
    assert.match(r.body.error.message, /decision\.deleteAfterDays/);
    const e = (await get<Record<string, unknown>>(`/v1/lifecycle/explain/${gone.eventId}`)).body;
    assert.equal(e.tier, 'deleted');
    assert.equal(e.occurredAt, null);
    assert.deepEqual((e.history as { toTier: string; policy: string }[]).map((h) => [h.toTier, h.policy]),
      [['cold', 'decision.coldAfterDays'], ['archive', 'decision.archiveAfterDays'], ['deleted', 'decision.deleteAfterDays']]);
  }
  const held = (await get<Record<string, unknown>>(`/v1/lifecycle/explain/${d1.eventId}`)).body;
  assert.equal(held.tier, tier);
  assert.deepEqual(held.legalHold && { ...(held.legalHold as object), since: '' }, { scope: 'record', reason: 'audit 7', operator: 'ops', since: '' });
  assert.ok(!(held.history as { toTier: string }[]).some((h) => h.toTier === 'deleted'), 'the held record was not touched by retention');
  assert.equal((await get(`/v1/lifecycle/explain/${A}-m1`)).body.tier, 'warm', 'memories stay warm');
  assert.equal((await get('/v1/records/00000000-0000-7000-8000-000000000000')).status, 404);

  // A blue/green rebuild of the whole log: the same blocks, byte for byte, and the same moves.
  const rebuilt = await cli('rebuild', 'tiering', '--as', 'tiering.v2', '--json');
  assert.equal(rebuilt.code, 0, rebuilt.err);
  const summary = JSON.parse(rebuilt.out.trim().split('\n').pop()!) as { schema: string };
  await stack.caughtUp();
  const v2 = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, summary.schema, { max: 2 });
  pools.push(v2);
  const rows = async (p: Pool, sql: string) => (await p.query(sql)).rows.map((r: Record<string, unknown>) => ({ ...r }));
  for (const sql of ['SELECT * FROM cold_blocks ORDER BY block_id', 'SELECT * FROM lifecycle_moves ORDER BY event_id', 'SELECT * FROM legal_holds ORDER BY record_id']) {
    const [one, two] = await Promise.all([rows(stack.pool, sql), rows(v2, sql)]);
    assert.ok(one.length > 0);
    assert.deepEqual(two, one, `the rebuild gives the same rows: ${sql}`);
  }
});

/**
 * By policy, under a clock the test sets: the planner (readInventory → planMoves → publishMoves, as the scheduler
 * runs it) takes one day of an agent's records warm → cold → archive → deleted as the clock passes each age, and at
 * each tier the gateway reads them back as they were in warm, naming the tier; once deleted, each answers 410.
 */
test('lifecycle - by policy, as a test clock passes each age, a day of records goes warm → cold → archive → deleted and reads back the same', async () => {
  const B = 'lc-policy';
  const policy = parseLifecyclePolicy(JSON.stringify({
    decision: { coldAfterDays: 1, archiveAfterDays: 3, deleteAfterDays: 5 }, trade: { coldAfterDays: 1, archiveAfterDays: 3, deleteAfterDays: 5 },
    recall: { coldAfterDays: 1, archiveAfterDays: 3, deleteAfterDays: 5 }, checkpoint: { keepLast: 0, keepDaily: true, archiveAfterDays: 3, deleteAfterDays: 5 },
  }), 'test');
  const day = Math.floor(Date.now() / DAY) * DAY - 20 * DAY;
  let n = 0;
  const e = <T extends Parameters<typeof makeEvent>[1]>(type: T, data: PayloadInput<T>, dt: number): FarmEvent => makeEvent(B, type, data, { producerSeq: ++n, occurredAt: day + 3600_000 + dt });
  const events = [
    e('agent_registered', { name: 'Policy', team: 'ops' }, 0),
    e('memory_recalled', { queryText: 'q', queryVector: [0.5], k: 1, hits: [] }, 10),
    e('decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence: 0.6, rationale: 'one', situation: [0.1, 0.2], memoryIds: [] }, 20),
    e('decision_made', { symbol: 'ETH', action: 'sell', size: 2, confidence: 0.4, rationale: 'two', situation: [0.3], memoryIds: [] }, 30),
    e('trade_executed', { orderId: 'p-1', symbol: 'BTC', side: 'buy', qty: 1, price: 100.5, fees: 0.1, decisionId: '' }, 40),
    e('checkpoint_saved', { label: 'eod', state: new TextEncoder().encode('{"cash":1}') }, 50),
  ];
  await publish(events);
  const records = events.slice(1);
  const read = async () => {
    const list = async (path: string) => (await get<{ items: Item[] }>(`/v1/agents/${B}/${path}`)).body.items;
    const byId: Record<string, { status: number; body: Record<string, unknown> }> = {};
    for (const r of records) byId[r.eventId] = await get(`/v1/records/${r.eventId}`);
    return { decisions: await list('decisions'), trades: await list('trades'), checkpoints: await list('checkpoints'), byId };
  };
  const warm = await read();
  for (const r of records) assert.equal(warm.byId[r.eventId]!.body.tier, 'warm');
  const step = async (days: number, tiers: Record<string, string>) => {
    const now = day + days * DAY + 60_000;
    const inv = await readInventory(stack.pool, { agents: [B], now, policy });
    const plan = planMoves(inv, policy, now, { archive: true });
    assert.ok(plan.moves.length > 0, `moves at day +${days}`);
    const { consistencyToken } = await publishMoves(stack.js, stack.names, plan.moves);
    await waitApplied(stack.pool, { projection: 'tiering.v1', partitions: stack.names.partitions, token: consistencyToken, timeoutMs: 30_000 });
    for (const m of plan.moves) assert.equal(await deadLetter(m.eventId), undefined, `${m.data.policy} applied`);
    assert.equal(planMoves(await readInventory(stack.pool, { agents: [B], now, policy }), policy, now).moves.length, 0, 'nothing left to move at that time');
    const now_ = await read();
    for (const k of ['decisions', 'trades', 'checkpoints'] as const) {
      assert.deepEqual(now_[k].map(withoutTier), warm[k].map(withoutTier), `day +${days}: ${k} read as in warm`);
      for (const item of now_[k]) assert.equal(item.tier, tiers[k.slice(0, -1)], `day +${days}: ${k} name their tier`);
    }
    for (const r of records) {
      const got = now_.byId[r.eventId]!;
      assert.equal(got.status, 200);
      assert.deepEqual({ ...got.body, tier: '' }, { ...warm.byId[r.eventId]!.body, tier: '' }, `day +${days}: ${r.type} reads as in warm`);
      assert.equal(got.body.tier, tiers[got.body.kind as string], `day +${days}: ${r.type} is in its tier`);
    }
  };
  await step(2, { decision: 'cold', trade: 'cold', recall: 'cold', checkpoint: 'warm' });
  await step(4, { decision: 'archive', trade: 'archive', recall: 'archive', checkpoint: 'archive' });
  const keys = (await stack.pool.query<{ archive_key: string }>(`SELECT archive_key FROM cold_blocks WHERE agent_id = $1 AND tier = 'archive'`, [B])).rows;
  assert.equal(keys.length, 4, 'a block object per kind in the archive store');
  // Past deleteAfterDays: tombstones; every record answers 410 and the block objects are removed from the store.
  const now = day + 6 * DAY + 60_000;
  const plan = planMoves(await readInventory(stack.pool, { agents: [B], now, policy }), policy, now);
  assert.deepEqual(plan.moves.map((m) => `${m.data.kind} ${m.data.fromTier}>${m.data.toTier}`).sort(),
    ['checkpoint archive>deleted', 'decision archive>deleted', 'recall archive>deleted', 'trade archive>deleted']);
  const { consistencyToken } = await publishMoves(stack.js, stack.names, plan.moves);
  await waitApplied(stack.pool, { projection: 'tiering.v1', partitions: stack.names.partitions, token: consistencyToken, timeoutMs: 30_000 });
  for (const r of records) {
    const got = await get<{ error: { code: string } }>(`/v1/records/${r.eventId}`);
    assert.deepEqual([got.status, got.body.error.code], [410, 'RECORD_DELETED'], r.type);
  }
  assert.deepEqual((await get<{ items: Item[] }>(`/v1/agents/${B}/decisions`)).body.items, []);
  await stack.caughtUp();
  for (const { archive_key: key } of keys) {
    await assert.rejects(readFile(join(stack.archiveDir!, key)), { code: 'ENOENT' }, `${key} removed from the archive store`);
  }
});

function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, FB_NAMESPACE: stack.namespace, FB_PARTITIONS: String(stack.names.partitions), NATS_URL: stack.natsUrl, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => (err += b));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}
