import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JetStreamClient } from '@nats-io/jetstream';
import { names as makeNames, partitionOf } from '@farmbrain/contracts';
import { createLogger, type Pool } from '@farmbrain/platform';
import { DAY_MS, DEFAULT_LIFECYCLE_POLICY, emptyInventory, utcDay, type Inventory, type PlannedMove, type PublishResult } from '@farmbrain/lifecycle';
import { startLifecycleScheduler, type LifecycleSchedulerDeps } from './scheduler.js';

const names = makeNames('sched_unit', 4);
const NOW = Date.UTC(2026, 11, 1, 9, 30);
const AGENTS = Array.from({ length: 12 }, (_, i) => `agent-${i}`);
const pool = { query: async () => ({ rows: AGENTS.map((agent_id) => ({ agent_id })) }) } as unknown as Pool;
const log = createLogger('test', 'silent');

/** An inventory with one old warm day per agent asked: one move each. */
const inventoryOf = (agents: readonly string[]): Inventory => ({
  ...emptyInventory(),
  days: agents.map((agentId) => ({ agentId, kind: 'decision', dayMs: utcDay(NOW) - 30 * DAY_MS, tier: 'warm', records: 2, lastSeq: 5, bytes: 100, heldRecords: 0 })),
});
const acks = (moves: readonly PlannedMove[]): PublishResult => ({
  published: moves.map((m) => ({ eventId: m.eventId, agentId: m.agentId, partition: partitionOf(m.agentId, 4), streamSeq: 1, duplicate: false })),
  consistencyToken: 'c1.0:1',
});

const deps = (o: Partial<LifecycleSchedulerDeps>): LifecycleSchedulerDeps => ({
  pool, js: {} as JetStreamClient, names, policy: DEFAULT_LIFECYCLE_POLICY, intervalMs: 3_600_000, owned: () => [0, 1, 2, 3], log,
  now: () => NOW, readInventory: async (_p, o2) => inventoryOf(o2.agents ?? []), publishMoves: async (_js, _n, moves) => acks(moves), ...o,
});

test('lifecycle scheduler - plans for the agents of the partitions owned, and only those', async () => {
  const asked: string[][] = [];
  const s = startLifecycleScheduler(deps({ owned: () => [1, 3], readInventory: async (_p, o) => (asked.push([...(o.agents ?? [])]), inventoryOf(o.agents ?? [])) }));
  const run = await s.runOnce();
  await s.stop();
  const mine = AGENTS.filter((a) => [1, 3].includes(partitionOf(a, 4)));
  assert.deepEqual(asked, [mine]);
  assert.equal(run.agents, mine.length);
  assert.deepEqual(run.plan!.moves.map((m) => m.agentId).sort(), [...mine].sort());
  assert.equal(run.consistencyToken, 'c1.0:1');
  const none = startLifecycleScheduler(deps({ owned: () => [] }));
  assert.equal((await none.runOnce()).skipped, 'no partitions owned');
  await none.stop();
  const notLive = startLifecycleScheduler(deps({ isLive: () => false }));
  assert.equal((await notLive.runOnce()).skipped, 'not the live version');
  await notLive.stop();
});

test('lifecycle scheduler - runs never overlap', async () => {
  let inFlight = 0;
  let most = 0;
  const s = startLifecycleScheduler(deps({
    readInventory: async (_p, o) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return inventoryOf(o.agents ?? []);
    },
  }));
  await Promise.all([s.runOnce(), s.runOnce(), s.runOnce(NOW + 1)]);
  await s.stop();
  assert.equal(most, 1);
});

test('lifecycle scheduler - a failed run is logged, and the next interval runs again', async () => {
  let calls = 0;
  const errors: string[] = [];
  const published: number[] = [];
  const s = startLifecycleScheduler(deps({
    intervalMs: 10, firstRunDelayMs: 1, republishAfterMs: 0,
    log: { ...log, info: () => undefined, debug: () => undefined, error: (o: { err: Error }) => errors.push(o.err.message) } as unknown as typeof log,
    readInventory: async (_p, o) => {
      if (++calls === 1) throw new Error('postgres went away');
      return inventoryOf(o.agents ?? []);
    },
    publishMoves: async (_js, _n, moves) => (published.push(moves.length), acks(moves)),
  }));
  const deadline = Date.now() + 5000;
  while (published.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await s.stop();
  assert.deepEqual(errors, ['postgres went away']);
  assert.ok(published.length >= 2, 'later intervals ran and published');
  const after = published.length;
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(published.length, after, 'nothing runs once stopped');
});

test('lifecycle scheduler - a move it published is not published again while pending, until republishAfterMs', async () => {
  const published: number[] = [];
  const s = startLifecycleScheduler(deps({ owned: () => [0], publishMoves: async (_js, _n, moves) => (published.push(moves.length), acks(moves)) }));
  const first = await s.runOnce();
  const second = await s.runOnce();
  await s.stop();
  assert.ok(first.published > 0);
  assert.deepEqual([second.published, second.suppressed], [0, first.published], 'the same plan: nothing published again');
  assert.deepEqual(published, [first.published]);
  const eager = startLifecycleScheduler(deps({ owned: () => [0], republishAfterMs: 0 }));
  await eager.runOnce();
  assert.equal((await eager.runOnce()).published, first.published);
  await eager.stop();
});
