import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { derivedEventId, SCHEMA_VERSION, withDefaults, type EventType, type FarmEvent, type PayloadInput } from '@farmbrain/contracts';
import { compareRows, decodeBlock, encodeBlock, readAgentViews, sha256Hex, type ViewLimits } from '@farmbrain/store';
import { canonicalMessages, cutBatches, type CanonicalMsg, type MessageSpec } from '@farmbrain/testing';
import { Rigs, type Rig } from '../testRig.js';
import { blockKey, type BlockObjectStore } from './lifecycle.js';

/**
 * The lifecycle as tiering applies it, in-process against the local Postgres
 * and Redis (see testRig.ts): records_moved takes an agent's records warm →
 * cold → archive → deleted, legal holds keep records from deletion, a late
 * duplicate of a moved event never comes back, the hot copy stays the view
 * Postgres gives, and the same log, cut into other batches, makes the same
 * blocks byte for byte.
 */

const PARTITION = 0;
const KEEP: ViewLimits = { decisions: 10, memories: 10 };
const NS = 'lctest';
let rigs: Rigs;
const dirs: string[] = [];

before(async () => {
  rigs = await Rigs.open('lifecycle-test', { prefix: 'lc', keep: KEEP, partition: PARTITION });
});
after(async () => {
  rigs.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** An archive store over a temporary folder: immutable objects, as @farmbrain/archive's FsArchiveStore keeps them. */
class DirStore implements BlockObjectStore {
  constructor(readonly root: string) {}
  static async create(): Promise<DirStore> {
    const d = await mkdtemp(join(tmpdir(), 'fb-lc-'));
    dirs.push(d);
    return new DirStore(d);
  }
  async put(key: string, bytes: Uint8Array): Promise<void> {
    const p = join(this.root, key);
    const old = await readFile(p).catch(() => undefined);
    if (old) {
      if (!old.equals(Buffer.from(bytes))) throw Object.assign(new Error(`conflict at ${key}`), { code: 'ARCHIVE_OBJECT_CONFLICT' });
      return;
    }
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, bytes);
  }
  get(key: string): Promise<Uint8Array> {
    return readFile(join(this.root, key));
  }
  async remove(key: string): Promise<void> {
    await rm(join(this.root, key), { force: true });
  }
  /** Every object: key → sha256. */
  async objects(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else out[relative(this.root, p)] = sha256Hex(await readFile(p));
      }
    };
    await walk(this.root);
    return out;
  }
}

const DAY = 86_400_000;
const D = Date.UTC(2026, 0, 10);
const NOW = D + 45 * DAY;
const A = 'lc-agent';
let seq = 0;
let idn = 0;
/** UUIDv7-shaped ids whose time is the event's, in order. */
const id7 = (ms: number) => {
  const t = ms.toString(16).padStart(12, '0');
  idn += 1;
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${(idn % 4096).toString(16).padStart(3, '0')}-8${(idn % 4096).toString(16).padStart(3, '0')}-${(idn * 7919).toString(16).padStart(12, '0')}`;
};
const ev = <T extends EventType>(type: T, data: PayloadInput<T>, occurredAt: number, agentId = A): FarmEvent =>
  ({ eventId: id7(occurredAt), agentId, producerSeq: ++seq, occurredAt, correlationId: '', causationId: '', schemaVersion: SCHEMA_VERSION, type, data: withDefaults(type, data) }) as FarmEvent;
/** A move as the lifecycle scheduler publishes it: a deterministic id from its time and what it moves. */
const move = (data: PayloadInput<'records_moved'>, at: number): FarmEvent => {
  const e = ev('records_moved', data, at);
  return { ...e, eventId: derivedEventId(at, JSON.stringify(data)) };
};
const hold = (data: PayloadInput<'legal_hold_changed'>, at: number): FarmEvent => ev('legal_hold_changed', data, at);

// The agent's day D: decisions, a trade that opens a position, a checkpoint, a memory and a recall of it; and a decision of D+1.
const reg = ev('agent_registered', { name: 'Lifecycle', team: 'ops' }, D + 1000);
const mem = ev('memory_stored', { memoryId: 'lc-m1', kind: 'lesson', text: 'stops work', tags: ['BTC'] }, D + 2000);
const d1 = ev('decision_made', { symbol: 'BTC', action: 'buy', size: 0.25, confidence: 0.62, rationale: 'breakout 2.1σ', situation: [0.41, -0.2, 0.05, 0.61], memoryIds: ['lc-m1'] }, D + 3000);
const t1 = ev('trade_executed', { orderId: 'o-1', symbol: 'BTC', side: 'buy', qty: 0.25, price: 61234.5, fees: 1.53, decisionId: d1.eventId }, D + 3100);
const d2 = ev('decision_made', { symbol: 'ETH', action: 'hold', size: 0, confidence: 0.5, rationale: 'flat', situation: [0.1, 0.2, 0.3, 0.4] }, D + 50_000_000);
const d3 = ev('decision_made', { symbol: 'BTC', action: 'hold', size: 0, confidence: 0.71, rationale: 'holding long', situation: [0.5, -0.1, 0.05, 0.66] }, D + 80_000_000);
const c1 = ev('checkpoint_saved', { label: 'tick', state: new TextEncoder().encode(JSON.stringify({ pos: { BTC: 0.25 }, ticks: 81 })) }, D + 60_000_000);
const r1 = ev('memory_recalled', { queryText: 'BTC breakout', queryVector: [0.1, 0.25, -0.5], filters: { kinds: ['lesson'] }, k: 5, hits: [{ memoryId: 'lc-m1', version: 1, score: 0.8, tier: 'warm' }], embeddingModel: 'farmbrain/hash-v1-8' }, D + 2500);
const d4 = ev('decision_made', { symbol: 'BTC', action: 'sell', size: 0.25, confidence: 0.55, rationale: 'next day', situation: [] }, D + DAY + 5000);
const day = [reg, mem, r1, d1, t1, d2, c1, d3, d4];
const ids = { decision: [d1, d2, d3].map((e) => e.eventId), trade: [t1.eventId], checkpoint: [c1.eventId], recall: [r1.eventId] };

// The moves, in log order (with a hold on d2 before retention, and an agent-wide one over the trades).
const policy = (kind: string, to: string) => `${kind}.${to}`;
const warmToCold = (['decision', 'trade', 'checkpoint'] as const).map((kind, i) =>
  move({ kind, fromTier: 'warm', toTier: 'cold', dayMs: D, recordIds: [], policy: policy(kind, 'coldAfterDays'), reason: `older than 7 days (day ${i})` }, NOW));
const recallToArchive = move({ kind: 'recall', fromTier: 'warm', toTier: 'archive', dayMs: D, recordIds: [], policy: 'recall.archiveAfterDays', reason: 'straight to the archive' }, NOW + 1);
// Each hold or lift is an event of its own (an event id applies once).
const holdD2 = (at: number) => hold({ held: true, recordIds: [d2.eventId.toUpperCase()], reason: 'audit 42', operator: 'ops-ann' }, at);
const holdAgent = (at: number) => hold({ held: true, recordIds: [], reason: 'litigation', operator: 'ops-bob' }, at);
const lift = (at: number) => hold({ held: false, recordIds: [], reason: 'settled', operator: 'ops-bob' }, at);
const decisionsToArchive = move({ kind: 'decision', fromTier: 'cold', toTier: 'archive', dayMs: D, recordIds: [], policy: 'decision.archiveAfterDays', reason: 'older than 30 days' }, NOW + 4);
const decisionsDeleted = move({ kind: 'decision', fromTier: 'archive', toTier: 'deleted', dayMs: D, recordIds: [], policy: 'decision.deleteAfterDays', reason: 'older than 40 days' }, NOW + 5);
const tradesDeletedHeld = move({ kind: 'trade', fromTier: 'cold', toTier: 'deleted', dayMs: D, recordIds: [], policy: 'trade.deleteAfterDays', reason: 'retention, first try' }, NOW + 6);
const tradesDeleted = move({ kind: 'trade', fromTier: 'cold', toTier: 'deleted', dayMs: D, recordIds: [], policy: 'trade.deleteAfterDays', reason: 'retention' }, NOW + 8);
const checkpointByIdToArchive = move({ kind: 'checkpoint', fromTier: 'cold', toTier: 'archive', dayMs: 0, recordIds: [c1.eventId], policy: 'checkpoint.archive', reason: 'by id' }, NOW + 9);
// Refused on purpose (dead letters that say why).
const memoryMove = move({ kind: 'memory', fromTier: 'warm', toTier: 'cold', dayMs: D, recordIds: [], policy: 'memory.cold', reason: 'no' }, NOW + 10);
const warmer = move({ kind: 'decision', fromTier: 'cold', toTier: 'warm', dayMs: D, recordIds: [], policy: 'decision.promote', reason: 'no' }, NOW + 11);
const notMidnight = move({ kind: 'trade', fromTier: 'warm', toTier: 'cold', dayMs: D + 5, recordIds: [], policy: 'trade.cold', reason: 'no' }, NOW + 12);

/** Late copies of moved events (same ids): they must not come back to warm. */
const dups = [d1, t1, c1, r1, d2].map((e) => ({ ...e }) as FarmEvent);

/** The whole log, one message per step, in order. */
const steps: MessageSpec[][] = [
  [{ agentId: A, events: day }],
  [{ agentId: A, events: warmToCold }],
  [{ agentId: A, events: [recallToArchive] }],
  [{ agentId: A, events: dups }],
  [{ agentId: A, events: [holdD2(NOW + 2), holdAgent(NOW + 3)] }],
  [{ agentId: A, events: [decisionsToArchive] }],
  // Lifting without ids lifts every hold of the agent; d2 is held again on its own.
  [{ agentId: A, events: [lift(NOW + 4), holdD2(NOW + 4)] }],
  [{ agentId: A, events: [decisionsDeleted] }],
  [{ agentId: A, events: [holdAgent(NOW + 6), tradesDeletedHeld, lift(NOW + 7), holdD2(NOW + 7), tradesDeleted] }],
  [{ agentId: A, events: [checkpointByIdToArchive, memoryMove, warmer, notMidnight] }],
  [{ agentId: A, events: dups }],
];

const warmRows = async (rig: Rig) => ({
  decision: (await rig.pool.query('SELECT * FROM decisions WHERE event_id = ANY($1::uuid[])', [ids.decision])).rows,
  trade: (await rig.pool.query('SELECT * FROM trades WHERE event_id = ANY($1::uuid[])', [ids.trade])).rows,
  checkpoint: (await rig.pool.query('SELECT * FROM checkpoints WHERE event_id = ANY($1::uuid[])', [ids.checkpoint])).rows,
  recall: (await rig.pool.query('SELECT * FROM recalls WHERE recall_id = ANY($1::uuid[])', [ids.recall])).rows,
});
const byId = (rows: Record<string, unknown>[], col = 'event_id') => Object.fromEntries(rows.map((r) => [r[col] as string, r]));
const blocks = async (rig: Rig) =>
  (await rig.pool.query(`SELECT block_id::text, kind, day::text, tier, records, event_ids::text[] AS ids, payload, archive_key, sha256, moves::text[] AS moves
                          FROM cold_blocks ORDER BY kind, block_id`)).rows as {
    block_id: string; kind: string; day: string; tier: string; records: number; ids: string[]; payload: Buffer | null; archive_key: string | null; sha256: string; moves: string[];
  }[];
const wholeBlocks = async (rig: Rig) => (await rig.pool.query('SELECT * FROM cold_blocks ORDER BY block_id')).rows;
const moves = async (rig: Rig) => (await rig.pool.query('SELECT * FROM lifecycle_moves ORDER BY stream_seq')).rows;

test('lifecycle - records go warm → cold → archive → deleted as the log says, the same in any batching, and never come back', async () => {
  await rigs.with(2, async (rig, again) => {
    const store = await DirStore.create();
    const handle = rig.handler({ lifecycle: { store, namespace: NS } });
    const msgs = canonicalMessages(rig.ns, PARTITION, steps);
    const run = async (i: number) => {
      await handle(msgs[i]!);
      await rig.assertHotIsPostgres([A], { when: `after step ${i}` });
    };

    // Day D recorded: every record warm.
    await run(0);
    const before = await warmRows(rig);
    assert.deepEqual(Object.values(before).map((r) => r.length), [3, 1, 1, 1]);
    const position = (await rig.pool.query('SELECT qty, trade_count FROM positions')).rows;
    const access = (await rig.pool.query('SELECT access_count FROM memories')).rows;

    // warm → cold: one block per kind, the rows gone from warm, the block's rows exactly what SELECT * gave.
    await run(1);
    let bs = await blocks(rig);
    assert.deepEqual(bs.map((b) => [b.kind, b.tier, b.records, b.day]), [['checkpoint', 'cold', 1, '2026-01-10'], ['decision', 'cold', 3, '2026-01-10'], ['trade', 'cold', 1, '2026-01-10']]);
    for (const b of bs) {
      assert.equal(b.block_id, warmToCold.find((m) => (m.data as { kind: string }).kind === b.kind)!.eventId, 'a block is named by its move');
      assert.equal(sha256Hex(b.payload!), b.sha256);
      const kind = b.kind as 'decision' | 'trade' | 'checkpoint';
      assert.deepEqual(byId(decodeBlock(b.payload!).rows), byId(before[kind]), `the ${kind} block holds the warm rows`);
    }
    assert.deepEqual((await warmRows(rig)).decision, []);
    assert.equal((await rig.pool.query('SELECT count(*)::int AS n FROM decisions WHERE event_id = $1', [d4.eventId])).rows[0].n, 1, 'the next day stays warm');
    const view = (await readAgentViews(rig.pool, [A], KEEP)).get(A)!;
    assert.deepEqual(view.decisions.map((d) => d.decisionId), [d4.eventId], 'the view shows the warm decisions');
    const agentRow = (await rig.pool.query('SELECT last_event_at FROM agents')).rows[0];
    assert.equal(agentRow.last_event_at.getTime(), d4.occurredAt, 'a move is not an event of the agent');

    // warm → archive directly: the recall's block is an object, the row keeps its key and checksum.
    await run(2);
    bs = await blocks(rig);
    const rb = bs.find((b) => b.kind === 'recall')!;
    assert.equal(rb.tier, 'archive');
    assert.equal(rb.payload, null);
    assert.equal(rb.archive_key, blockKey(NS, A, 'recall', recallToArchive.eventId));
    const rbytes = await store.get(rb.archive_key!);
    assert.equal(sha256Hex(rbytes), rb.sha256);
    assert.deepEqual(decodeBlock(rbytes).rows, before.recall);

    // Late duplicates of moved events: nothing comes back, no fold counts twice.
    await run(3);
    assert.deepEqual(Object.values(await warmRows(rig)).map((r) => r.length), [0, 0, 0, 0], 'duplicates of moved records stay out of warm');
    assert.deepEqual((await rig.pool.query('SELECT qty, trade_count FROM positions')).rows, position, 'the trade is not folded again');
    assert.deepEqual((await rig.pool.query('SELECT access_count FROM memories')).rows, access, 'the recall is not counted again');

    // Holds, then cold → archive: holds do not stop archiving.
    await run(4);
    await run(5);
    bs = await blocks(rig);
    const db = bs.find((b) => b.kind === 'decision')!;
    assert.equal(db.tier, 'archive');
    assert.equal(db.payload, null);
    assert.deepEqual(db.moves, [warmToCold[0]!.eventId, decisionsToArchive.eventId]);
    assert.ok(db.archive_key && sha256Hex(await store.get(db.archive_key)) === db.sha256);

    // Retention with d2 held: the block is cut in two, d2 stays in the archive, the rest is a tombstone.
    await run(6);
    await run(7);
    bs = (await blocks(rig)).filter((b) => b.kind === 'decision');
    const kept = bs.find((b) => b.tier === 'archive')!;
    const gone = bs.find((b) => b.tier === 'deleted')!;
    assert.equal(bs.length, 2, 'the old block is replaced by its two parts');
    assert.deepEqual(kept.ids, [d2.eventId]);
    assert.deepEqual(new Set(gone.ids), new Set([d1.eventId, d3.eventId]));
    assert.equal(gone.payload, null);
    assert.equal(gone.archive_key, null);
    assert.deepEqual(gone.moves, [warmToCold[0]!.eventId, decisionsToArchive.eventId, decisionsDeleted.eventId]);
    assert.deepEqual(kept.moves, [warmToCold[0]!.eventId, decisionsToArchive.eventId], 'the kept part keeps its history, not the deletion');
    assert.deepEqual(decodeBlock(await store.get(kept.archive_key!)).rows, before.decision.filter((r) => r.event_id === d2.eventId));
    await assert.rejects(store.get(db.archive_key!), 'the old object is removed after the commit');
    assert.equal((await rig.pool.query('SELECT count(*)::int AS n FROM archive_removals')).rows[0].n, 0);
    const m = (await moves(rig)).find((x) => x.event_id === decisionsDeleted.eventId)!;
    assert.deepEqual([m.records, m.held, m.from_tier, m.to_tier, m.policy], [2, 1, 'archive', 'deleted', 'decision.deleteAfterDays']);

    // An agent-wide hold keeps everything; once lifted, retention deletes the trades (d2 is still held alone).
    await run(8);
    const trades = (await blocks(rig)).filter((b) => b.kind === 'trade');
    assert.deepEqual(trades.map((b) => [b.tier, b.records, b.payload]), [['deleted', 1, null]]);
    const tm = (await moves(rig)).filter((x) => x.kind === 'trade' && x.to_tier === 'deleted').map((x) => [x.records, x.held, x.reason]);
    assert.deepEqual(tm, [[0, 1, 'retention, first try'], [1, 0, 'retention']]);

    // A checkpoint moved by id; refused moves are dead letters that say why.
    await run(9);
    assert.equal((await blocks(rig)).find((b) => b.kind === 'checkpoint')!.tier, 'archive');
    const letters = (await rig.deadLetters()).map((l) => [l.event_id, l.code]);
    assert.deepEqual(letters, [[memoryMove.eventId, 'UNSUPPORTED_MOVE'], [warmer.eventId, 'UNSUPPORTED_MOVE'], [notMidnight.eventId, 'INVALID_MOVE']]);
    await run(10);
    assert.deepEqual(Object.values(await warmRows(rig)).map((r) => r.length), [0, 0, 0, 0], 'duplicates of deleted records stay out too');
    const holds = (await rig.pool.query('SELECT record_id, reason FROM legal_holds')).rows;
    assert.deepEqual(holds, [{ record_id: d2.eventId, reason: 'audit 42' }]);

    // The same log again, in other batches (one message each, then all at once): the same blocks, moves and objects.
    const store2 = await DirStore.create();
    const handle2 = again.handler({ lifecycle: { store: store2, namespace: NS } });
    const msgs2 = canonicalMessages(again.ns, PARTITION, steps);
    const flat = msgs2.flat();
    for (const b of cutBatches<CanonicalMsg>(flat, [1, 3, 7])) await handle2(b);
    const clean = (rows: Record<string, unknown>[]) => rows.map((r) => ({ ...r }));
    assert.deepEqual(clean(await wholeBlocks(again)), clean(await wholeBlocks(rig)), 'identical cold_blocks rows');
    assert.deepEqual(clean(await moves(again)), clean(await moves(rig)), 'identical lifecycle_moves rows');
    assert.deepEqual(await store2.objects(), await store.objects(), 'identical archive objects');
    assert.deepEqual((await again.snapshot()).warm, (await rig.snapshot()).warm, 'identical warm tables');
    await again.assertHotIsPostgres([A]);
  });
});

test('lifecycle - without an archive store a move to the archive is a dead letter to replay, and nothing moves', async () => {
  await rigs.with(1, async (rig) => {
    const handle = rig.handler();
    const e = ev('decision_made', { symbol: 'SOL', action: 'buy', size: 1, confidence: 0.5 }, D + 10, 'lc-nostore');
    const m = { ...move({ kind: 'decision', fromTier: 'warm', toTier: 'archive', dayMs: D, recordIds: [], policy: 'decision.archive', reason: 'x' }, NOW), agentId: 'lc-nostore' } as FarmEvent;
    for (const b of canonicalMessages(rig.ns, PARTITION, [[{ agentId: 'lc-nostore', events: [e, m] }]])) await handle(b);
    assert.deepEqual((await rig.deadLetters()).map((l) => l.code), ['NO_ARCHIVE_STORE']);
    assert.equal((await rig.pool.query('SELECT count(*)::int AS n FROM decisions')).rows[0].n, 1);
    assert.equal((await rig.pool.query('SELECT count(*)::int AS n FROM cold_blocks')).rows[0].n, 0);
  });
});

test('lifecycle - a day with more records than a block holds makes several blocks, each of its own', async () => {
  await rigs.with(1, async (rig) => {
    const store = await DirStore.create();
    const handle = rig.handler({ lifecycle: { store, namespace: NS, blockRows: 4 } });
    const a = 'lc-many';
    const evs = Array.from({ length: 10 }, (_, i) => ev('decision_made', { symbol: i % 2 ? 'BTC' : 'ETH', action: 'hold', size: 0, confidence: i / 10 }, D + i * 1000, a));
    const m = { ...move({ kind: 'decision', fromTier: 'warm', toTier: 'cold', dayMs: D, recordIds: [], policy: 'p', reason: 'r' }, NOW), agentId: a } as FarmEvent;
    for (const b of canonicalMessages(rig.ns, PARTITION, [[{ agentId: a, events: [...evs, m] }]])) await handle(b);
    const bs = await blocks(rig);
    assert.deepEqual(bs.map((b) => b.records).sort(), [2, 4, 4]);
    assert.ok(bs.some((b) => b.block_id === m.eventId));
    assert.deepEqual(new Set(bs.flatMap((b) => b.ids)), new Set(evs.map((e) => e.eventId)));
    assert.equal((await rig.pool.query('SELECT records FROM lifecycle_moves')).rows[0].records, 10);
  });
});

test('lifecycle - cold → cold compacts a day\'s blocks into as few as the block size allows, the bytes of its rows encoded together, in any batching', async () => {
  await rigs.with(3, async (rig, again, once) => {
    const a = 'lc-compact';
    const evs = Array.from({ length: 9 }, (_, i) => ev('decision_made', { symbol: i % 2 ? 'BTC' : 'ETH', action: 'hold', size: i, confidence: i / 10 }, D + i * 1000, a));
    const m = (data: PayloadInput<'records_moved'>, at: number) => ({ ...move(data, at), agentId: a }) as FarmEvent;
    const toCold = (n: number) => m({ kind: 'decision', fromTier: 'warm', toTier: 'cold', dayMs: D, recordIds: [], policy: 'decision.coldAfterDays', reason: `move ${n}` }, NOW + n);
    const compact = m({ kind: 'decision', fromTier: 'cold', toTier: 'cold', dayMs: D, recordIds: [], policy: 'optimize.compaction', reason: 'merge' }, NOW + 9);
    const byIds = m({ kind: 'decision', fromTier: 'cold', toTier: 'cold', dayMs: 0, recordIds: [evs[0]!.eventId], policy: 'optimize.compaction', reason: 'no' }, NOW + 10);
    // Three moves of late rows: three blocks of the day (2, 2 and 5 rows); then the compaction, and one naming ids (refused).
    const steps: MessageSpec[][] = [
      [{ agentId: a, events: evs.slice(0, 2) }], [{ agentId: a, events: [toCold(1)] }],
      [{ agentId: a, events: evs.slice(2, 4) }], [{ agentId: a, events: [toCold(2)] }],
      [{ agentId: a, events: evs.slice(4) }], [{ agentId: a, events: [toCold(3)] }],
      [{ agentId: a, events: [compact, byIds] }],
    ];
    const run = async (r: Rig, cuts: number[], log = steps) => {
      const handle = r.handler({ lifecycle: { namespace: NS, blockRows: 6 } });
      for (const b of cutBatches<CanonicalMsg>(canonicalMessages(r.ns, PARTITION, log).flat(), cuts)) await handle(b);
    };
    await run(rig, [1]);
    const bs = await blocks(rig);
    // 2 + 2 + 5 rows in three blocks, merged into blocks of at most 6: two blocks (6 and 3), the first named by the compaction.
    assert.deepEqual(bs.map((b) => [b.tier, b.records]).sort(), [['cold', 3], ['cold', 6]]);
    assert.ok(bs.some((b) => b.block_id === compact.eventId));
    assert.deepEqual(new Set(bs.flatMap((b) => b.ids)), new Set(evs.map((e) => e.eventId)));
    for (const b of bs) assert.deepEqual(b.moves.slice(-1), [compact.eventId], 'the history ends with the compaction');
    assert.deepEqual(bs.find((b) => b.block_id === compact.eventId)!.moves, [toCold(1), toCold(2), toCold(3), compact].map((e) => e.eventId));
    assert.deepEqual((await rig.deadLetters()).map((l) => l.code), ['INVALID_MOVE'], 'a compaction names a day, not ids');
    const applied = (await rig.pool.query(`SELECT records, bytes_before, bytes_after FROM lifecycle_moves WHERE event_id = $1`, [compact.eventId])).rows[0];
    assert.equal(applied.records, 9);
    // The bytes are the rows of the three blocks encoded together (the codec is deterministic; block order does not depend on the moves).
    await run(once, [1], steps.slice(0, -1));
    const rows = (await blocks(once)).flatMap((b) => decodeBlock(b.payload!).rows).sort((x, y) => compareRows('decision', x, y));
    assert.deepEqual([encodeBlock('decision', rows.slice(0, 6)).sha256, encodeBlock('decision', rows.slice(6)).sha256].sort(), bs.map((b) => b.sha256).sort());
    await run(again, [3, 2, 5]);
    const clean = (rows: Record<string, unknown>[]) => rows.map((r) => ({ ...r }));
    assert.deepEqual(clean(await wholeBlocks(again)), clean(await wholeBlocks(rig)), 'identical blocks in another batching');
    await again.assertHotIsPostgres([a]);
  });
});
