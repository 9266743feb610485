import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HEADERS, SCHEMA_VERSION, withDefaults, type EventType, type FarmEvent, type PayloadInput } from '@farmbrain/contracts';
import { readAgentViews, type ViewLimits } from '@farmbrain/store';
import {
  canonicalMessages,
  cutBatches,
  duplicateSpecArb,
  groupIntoMessages,
  interleave,
  propertyRuns,
  tradingSessionArb,
  withDuplicates,
  type CanonicalMsg,
  type MessageSpec,
} from '@farmbrain/testing';
import { Rigs, type Rig } from './testRig.js';

/**
 * The projection's promise, run in-process against the local Postgres and
 * Redis: whatever duplicates and redeliveries it is handed, and wherever the
 * batches end, the stores come out exactly as from each event once.
 */

const PARTITION = 0;
/** Small, so that trimming the hot decisions and memories happens in every run. */
const KEEP: ViewLimits = { decisions: 4, memories: 3 };
let rigs: Rigs;

before(async () => {
  rigs = await Rigs.open('exactly-once-test', { prefix: 'eo', keep: KEEP, partition: PARTITION });
});
after(() => rigs.close());

const withRigs = <T>(n: number, fn: (...rigs: Rig[]) => Promise<T>): Promise<T> => rigs.with(n, fn);

/** Feeds batches to a handler; after each, the hot copies of the batch's agents must equal Postgres. */
async function feed(rig: Rig, handle: (msgs: readonly CanonicalMsg[]) => Promise<void>, batches: readonly (readonly CanonicalMsg[])[], when: string): Promise<void> {
  for (const [i, b] of batches.entries()) {
    await handle(b);
    await rig.assertHotIsPostgres(b.map((m) => m.subject.slice(m.subject.lastIndexOf('.') + 1)), { when: `${when}, after batch ${i + 1} of ${batches.length}` });
  }
}

const TABLE_OF: Partial<Record<EventType, [string, string]>> = {
  decision_made: ['decisions', 'event_id'],
  trade_executed: ['trades', 'event_id'],
  position_closed: ['position_closes', 'event_id'],
  checkpoint_saved: ['checkpoints', 'event_id'],
  memory_recalled: ['recalls', 'recall_id'],
};

/** Every event was processed: its row written or its dead letter recorded (never both for a memory change). */
async function assertEachApplied(rig: Rig, events: readonly FarmEvent[]): Promise<void> {
  const agents = new Set((await rig.pool.query<{ agent_id: string }>('SELECT agent_id FROM agents')).rows.map((r) => r.agent_id));
  for (const e of events) assert.ok(agents.has(e.agentId), `agent ${e.agentId} has its row`);
  const dead = new Set((await rig.pool.query<{ event_id: string }>('SELECT event_id FROM projection_dead_letters')).rows.map((r) => r.event_id));
  for (const [type, [table, key]] of Object.entries(TABLE_OF)) {
    const want = events.filter((e) => e.type === type).map((e) => e.eventId.toLowerCase());
    const r = await rig.pool.query<{ id: string }>(`SELECT ${key}::text AS id FROM ${table} WHERE ${key} = ANY($1::uuid[])`, [want]);
    const have = new Set(r.rows.map((x) => x.id));
    for (const id of want) assert.ok(have.has(id) || dead.has(id), `${type} ${id} has no row and no dead letter`);
  }
  const memoryEvents = events.filter((e) => e.type.startsWith('memory_') && e.type !== 'memory_recalled').map((e) => e.eventId.toLowerCase());
  const versions = new Set((await rig.pool.query<{ id: string }>('SELECT event_id::text AS id FROM memory_versions WHERE event_id = ANY($1::uuid[])', [memoryEvents])).rows.map((r) => r.id));
  for (const id of memoryEvents) assert.ok(versions.has(id) !== dead.has(id), `memory event ${id}: exactly one of a version row or a dead letter`);
}

// ---- the property ----------------------------------------------------------------------------------

const scenario = fc.record({
  sessions: tradingSessionArb({ agents: { min: 2, max: 4 }, events: { min: 0, max: 24 }, prefix: 'eo' }),
  picks: fc.array(fc.nat(), { minLength: 1, maxLength: 16 }),
  messageSizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }),
  cleanCuts: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 6 }),
  dupCuts: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 6 }),
  replayCuts: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 4 }),
  dups: fc.array(duplicateSpecArb, { minLength: 1, maxLength: 14 }),
  /** Sometimes every event of one agent is sent again (so copies of dead-lettered events are common too). */
  sweep: fc.option(fc.record({ agent: fc.nat(), specs: fc.array(duplicateSpecArb, { minLength: 1, maxLength: 4 }) })),
  /** Ingest's rejection markers on some messages (maybe on an empty one: every event of it rejected). */
  markers: fc.array(fc.record({ at: fc.nat(), rejected: fc.integer({ min: 1, max: 3 }), empty: fc.boolean() }), { maxLength: 2 }),
  /** A restart mid-run: tiering gets the last `rewind` messages again (a redelivery), then goes on. */
  crash: fc.option(fc.record({ after: fc.nat(), rewind: fc.nat() })),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

/** The messages of the duplicate-free log, each with its ingress sequence (the same in every run). */
function cleanMessages(s: Scenario): MessageSpec[] {
  const msgs = groupIntoMessages(interleave(s.sessions, s.picks), s.messageSizes);
  for (const m of s.markers) {
    if (msgs.length === 0) break;
    const i = m.at % msgs.length;
    const marker = { [HEADERS.rejected]: String(m.rejected), [HEADERS.reasonCode]: 'OUT_OF_RANGE', [HEADERS.reason]: `data.qty must be greater than 0 (${i})` };
    if (m.empty) msgs.splice(i + 1, 0, { agentId: msgs[i]!.agentId, events: [], headers: marker });
    else msgs[i] = { ...msgs[i]!, headers: marker };
  }
  return msgs.map((m, i) => ({ ...m, headers: { ...m.headers, [HEADERS.ingressSeq]: String(i + 1) } }));
}

/** Copies of every event of one agent, placed by the sweep's specs in turn. */
function sweep(s: Scenario) {
  if (!s.sweep) return [];
  const log = cleanMessages(s).flatMap((m) => m.events);
  const agent = s.sessions[s.sweep.agent % s.sessions.length]![0]!.agentId;
  return log.flatMap((e, at) => (e.agentId === agent ? [{ ...s.sweep!.specs[at % s.sweep!.specs.length]!, at }] : []));
}

test('tiering exactly once - property: duplicates in one message, one batch, adjacent or later batches, redeliveries and replays leave the stores as each event once', async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const events = s.sessions.flat();
      const clean = cleanMessages(s);
      await withRigs(2, async (once, dup) => {
        // The reference: each event once, in its own random batches.
        await feed(once, once.handler(), canonicalMessages(once.ns, PARTITION, cutBatches(clean, s.cleanCuts)), 'duplicate-free run');
        await assertEachApplied(once, events);
        const want = await once.snapshot();

        // The same log with copies, in other batches, maybe with a restart that redelivers a tail.
        const batches = canonicalMessages(dup.ns, PARTITION, withDuplicates(cutBatches(clean, s.dupCuts), [...s.dups, ...sweep(s)]));
        let handle = dup.handler();
        const crashAfter = s.crash ? s.crash.after % batches.length : -1;
        for (const [i, b] of batches.entries()) {
          await feed(dup, handle, [b], 'run with duplicates');
          if (i === crashAfter) {
            const done = batches.slice(0, i + 1).flat();
            handle = dup.handler();
            await feed(dup, handle, cutBatches(done.slice(-(1 + (s.crash!.rewind % done.length))), s.replayCuts), 'redelivery after a restart');
          }
        }
        assert.deepEqual(await dup.snapshot(), want, 'stores with duplicates = stores of each event once');

        // Replay from the start, as after a crash that lost every ack: nothing changes.
        await feed(dup, dup.handler(), cutBatches(batches.flat(), s.replayCuts), 'replay from the start');
        assert.deepEqual(await dup.snapshot(), want, 'a replay from the start changes nothing');
      });
    }),
    propertyRuns(60, { interruptAfterTimeLimit: 35_000 }),
  );
});

// ---- first copy wins ----------------------------------------------------------------------------

const T0 = 1_700_000_000_000;
let idCounter = 0;
const id7 = (at: number) => {
  const t = at.toString(16).padStart(12, '0');
  idCounter += 1;
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${(idCounter % 4096).toString(16).padStart(3, '0')}-8000-${idCounter.toString(16).padStart(12, '0')}`;
};
const ev = <T extends EventType>(agentId: string, type: T, data: PayloadInput<T>, producerSeq: number, occurredAt: number, eventId = id7(occurredAt)): FarmEvent =>
  ({ eventId, agentId, producerSeq, occurredAt, correlationId: '', causationId: '', schemaVersion: SCHEMA_VERSION, type, data: withDefaults(type, data) }) as FarmEvent;

test('tiering exactly once - a copy under the same event id with another producerSeq and payload: the first copy wins, wherever the copy arrives', async () => {
  await withRigs(1, async (rig) => {
    const a = 'first-wins';
    const reg = ev(a, 'agent_registered', { name: 'First', config: {} }, 1, T0);
    const trade = ev(a, 'trade_executed', { orderId: 'o-1', symbol: 'BTC', side: 'buy', qty: 1, price: 100 }, 2, T0 + 1);
    const forged = { ...trade, producerSeq: 99, occurredAt: T0 + 50, data: { ...trade.data, qty: 5, price: 1 } } as FarmEvent;
    const memory = ev(a, 'memory_stored', { memoryId: 'm-first', kind: 'fact', text: 'the first text' }, 3, T0 + 2);
    const update = ev(a, 'memory_updated', { memoryId: 'm-first', text: 'updated once' }, 4, T0 + 3);
    const forgedUpdate = { ...update, producerSeq: 98, data: { ...update.data, text: 'forged' } } as FarmEvent;
    const decisions = [5, 6, 7, 8, 9, 10].map((n) => ev(a, 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence: 0.5, rationale: `d${n}` }, n, T0 + n));
    // Copies of the oldest decisions, as many as the hot copy keeps, claiming to be the newest: they must not push the real newest out of the hot copy.
    const forgedDecisions = decisions.slice(0, KEEP.decisions).map((d, i) => ({ ...d, producerSeq: 200 + i, occurredAt: T0 + 500 + i }) as FarmEvent);
    const later = [11, 12, 13, 14].map((n) => ev(a, 'decision_made', { symbol: 'ETH', action: 'sell', size: 1, confidence: 0.5, rationale: `late${n}` }, n, T0 + n));

    const handle = rig.handler();
    const [b1, b2, b3, b4] = canonicalMessages(rig.ns, PARTITION, [
      // one message with the forged trade right after the real one, then the forged copy alone in the same batch
      [{ agentId: a, events: [reg, trade, forged, memory] }, { agentId: a, events: [forged] }],
      // the next batch
      [{ agentId: a, events: [forged, update, forgedUpdate, ...decisions] }],
      [{ agentId: a, events: [...later.slice(0, 2)] }],
      // much later, mixed with new events
      [{ agentId: a, events: [forged, forgedUpdate, ...forgedDecisions, ...later.slice(2)] }],
    ]);
    for (const b of [b1!, b2!, b3!, b4!]) await handle(b);

    const trades = await rig.pool.query('SELECT qty, price, producer_seq FROM trades');
    assert.deepEqual(trades.rows, [{ qty: 1, price: 100, producer_seq: 2 }], 'one trade row, the first copy');
    const positions = await rig.pool.query(`SELECT qty, avg_price, trade_count FROM positions WHERE status = 'open'`);
    assert.deepEqual(positions.rows, [{ qty: 1, avg_price: 100, trade_count: 1 }], 'the position counts the trade once');
    const mem = await rig.pool.query('SELECT text, version FROM memories');
    assert.deepEqual(mem.rows, [{ text: 'updated once', version: 2 }], 'the update applied once, the first copy');

    const warm = (await readAgentViews(rig.pool, [a], KEEP)).get(a)!;
    assert.deepEqual(warm.decisions.map((d) => d.rationale), ['late14', 'late13', 'late12', 'late11']);
    assert.deepEqual(warm.positions.map((p) => [p.qty, p.tradeCount]), [[1, 1]]);
    assert.deepEqual(await rig.hot.read(a, KEEP), warm, 'the hot copy is the view Postgres gives');
  });
});

// ---- out of order --------------------------------------------------------------------------------

const shuffled = fc.record({
  sessions: tradingSessionArb({ agents: { min: 1, max: 3 }, events: { min: 1, max: 30 }, prefix: 'ooo' }),
  keys: fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
  picks: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
  messageSizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
  cuts: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
});

test('tiering exactly once - property: an agent\'s events out of producer order give a hot copy equal to the view rebuilt from Postgres, decisions newest first', async () => {
  await fc.assert(
    fc.asyncProperty(shuffled, async (s) => {
      // Each agent's events in a random order: producer sequences and times go backwards.
      const lists = s.sessions.map((evs) => evs.map((e, i) => ({ e, k: s.keys[i % s.keys.length]! * 1000 + i })).sort((x, y) => x.k - y.k).map((x) => x.e));
      await withRigs(1, async (rig) => {
        await feed(rig, rig.handler(), canonicalMessages(rig.ns, PARTITION, cutBatches(groupIntoMessages(interleave(lists, s.picks), s.messageSizes), s.cuts)), 'out of order');
        for (const evs of s.sessions) {
          const a = evs[0]!.agentId;
          const hot = await rig.hot.read(a, KEEP);
          assert.ok(hot, `${a} has a complete hot copy`);
          assert.deepEqual(hot, (await readAgentViews(rig.pool, [a], KEEP)).get(a), `${a}: hot copy = Postgres view`);
          const newest = await rig.pool.query<{ id: string }>('SELECT event_id::text AS id FROM decisions WHERE agent_id = $1 ORDER BY occurred_at DESC, event_id DESC LIMIT $2', [a, KEEP.decisions]);
          assert.deepEqual(hot.decisions.map((d) => d.decisionId), newest.rows.map((r) => r.id), `${a}: hot decisions in Postgres order`);
        }
      });
    }),
    propertyRuns(40, { interruptAfterTimeLimit: 12_000 }),
  );
});

test('tiering exactly once - an event id in upper case (a valid UUIDv7 at ingest) is applied, once', async () => {
  await withRigs(1, async (rig) => {
    const t = ev('upper-1', 'trade_executed', { orderId: 'o-1', symbol: 'BTC', side: 'buy', qty: 2, price: 10 }, 1, T0, id7(T0).toUpperCase());
    const handle = rig.handler();
    const [b1, b2] = canonicalMessages(rig.ns, PARTITION, [[{ agentId: 'upper-1', events: [t] }], [{ agentId: 'upper-1', events: [{ ...t, eventId: t.eventId.toLowerCase() } as FarmEvent] }]]);
    await handle(b1!);
    const trades = await rig.pool.query<{ id: string }>('SELECT event_id::text AS id FROM trades');
    const dead = await rig.pool.query('SELECT code FROM projection_dead_letters');
    assert.deepEqual({ trades: trades.rows.map((r) => r.id), dead: dead.rows }, { trades: [t.eventId.toLowerCase()], dead: [] }, 'the trade is applied (not claimed and dropped)');
    // The same id in lower case is the same event: a duplicate.
    await handle(b2!);
    const positions = await rig.pool.query('SELECT qty, trade_count FROM positions');
    assert.deepEqual(positions.rows, [{ qty: 2, trade_count: 1 }]);
  });
});
