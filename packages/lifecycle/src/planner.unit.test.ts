import { test } from 'node:test';
import assert from 'node:assert/strict';
import { derivedEventId, isUuidV7 } from '@farmbrain/contracts';
import { applyPlan, DAY_MS, DEFAULT_LIFECYCLE_POLICY, emptyInventory, parseLifecyclePolicy, planMoves, type CheckpointEntry, type DayCell, type Inventory } from './index.js';

const NOW = Date.UTC(2026, 11, 1, 9, 30); // 2026-12-01T09:30Z
const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`);
const cell = (c: Partial<DayCell> & Pick<DayCell, 'dayMs'>): DayCell => ({ agentId: 'a1', kind: 'decision', tier: 'warm', records: 10, lastSeq: 100, bytes: 1000, heldRecords: 0, ...c });
const inv = (o: Partial<Inventory>): Inventory => ({ ...emptyInventory(), ...o });
const P = DEFAULT_LIFECYCLE_POLICY;

test('planner - a day moves once the whole day is older than the age, to the coldest tier it reached', () => {
  const plan = planMoves(inv({
    days: [
      cell({ dayMs: day('2026-11-30') }), // 1 day: stays
      cell({ dayMs: day('2026-11-24') }), // ends 11-25T00:00, 6.4 days ago: stays
      cell({ dayMs: day('2026-11-23') }), // ends 7.4 days ago: cold
      cell({ dayMs: day('2026-08-01') }), // archive, straight from warm
      cell({ dayMs: day('2026-08-01'), tier: 'cold', records: 3, bytes: 200 }), // and the day's cold block too
      cell({ dayMs: day('2026-08-01'), tier: 'archive', records: 5 }), // already there
    ],
  }), P, NOW);
  assert.deepEqual(plan.moves.map((m) => [m.data.dayMs, m.data.fromTier, m.data.toTier, m.data.policy]), [
    [day('2026-08-01'), 'warm', 'archive', 'decision.archiveAfterDays'],
    [day('2026-08-01'), 'cold', 'archive', 'decision.archiveAfterDays'],
    [day('2026-11-23'), 'warm', 'cold', 'decision.coldAfterDays'],
  ]);
  const m = plan.moves[2]!;
  assert.equal(m.data.reason, 'decisions of 2026-11-23 are older than 7 days (decision.coldAfterDays = 7) as of 2026-12-01T09:30:00.000Z');
  assert.deepEqual(m.data.recordIds, []);
  assert.equal(m.agentId, 'a1');
  assert.equal(m.occurredAt, NOW);
  assert.ok(isUuidV7(m.eventId));
  assert.equal(m.eventId, derivedEventId(day('2026-11-23'), `records_moved/v1|a1|decision|day:${day('2026-11-23')}|warm>cold|decision.coldAfterDays|n:10|seq:100`));
  assert.deepEqual(plan.byPolicy, { 'decision.archiveAfterDays': { moves: 2, records: 13 }, 'decision.coldAfterDays': { moves: 1, records: 10 } });
});

test('planner - what a move saw is its identity: a late record makes a new move, the same inventory the same id', () => {
  const a = planMoves(inv({ days: [cell({ dayMs: day('2026-11-01') })] }), P, NOW);
  const again = planMoves(inv({ days: [cell({ dayMs: day('2026-11-01') })] }), P, NOW + 3600_000);
  const late = planMoves(inv({ days: [cell({ dayMs: day('2026-11-01'), records: 1, lastSeq: 180 })] }), P, NOW);
  assert.equal(a.moves[0]!.eventId, again.moves[0]!.eventId, 'another scheduler an hour later publishes the same id');
  assert.notEqual(a.moves[0]!.eventId, late.moves[0]!.eventId);
});

test('planner - retention deletes, except for a held agent or a day holding a held record', () => {
  const old = day('2025-10-01'); // > 365 days
  const plan = planMoves(inv({
    days: [
      cell({ agentId: 'a1', kind: 'recall', dayMs: old, tier: 'archive' }),
      cell({ agentId: 'a2', kind: 'recall', dayMs: old, tier: 'archive' }),
      cell({ agentId: 'a3', kind: 'recall', dayMs: old, tier: 'archive', heldRecords: 0 }),
      cell({ agentId: 'a3', kind: 'recall', dayMs: old, tier: 'warm', heldRecords: 1 }), // a late record, held
    ],
    holds: [{ agentId: 'a2', recordId: '' }, { agentId: 'a3', recordId: '0190b8c0-0000-7000-8000-000000000001' }],
  }), P, NOW);
  assert.deepEqual(plan.moves.map((m) => [m.agentId, m.data.fromTier, m.data.toTier]), [
    ['a1', 'archive', 'deleted'],
    // a3's day holds a held record: no tier of it is deleted; its warm records still go to the archive.
    ['a3', 'warm', 'archive'],
  ]);
  assert.equal(plan.moves[0]!.data.reason, 'recalls of 2025-10-01 are older than 365 days (recall.deleteAfterDays = 365), no legal hold as of 2026-12-01T09:30:00.000Z');
  assert.deepEqual(plan.heldBack.map((h) => [h.agentId, h.policy, h.reason]), [
    ['a2', 'recall.deleteAfterDays', 'recalls of 2025-10-01 are older than 365 days (recall.deleteAfterDays = 365) but not deleted: the agent is under legal hold as of 2026-12-01T09:30:00.000Z'],
    ['a3', 'recall.deleteAfterDays', 'recalls of 2025-10-01 are older than 365 days (recall.deleteAfterDays = 365) but not deleted: 1 of them under legal hold as of 2026-12-01T09:30:00.000Z'],
  ]);
});

test('planner - ages made longer never move records back to a hotter tier', () => {
  const p = parseLifecyclePolicy('{"decision": {"coldAfterDays": 30, "archiveAfterDays": 400}}');
  const plan = planMoves(inv({ days: [cell({ dayMs: day('2026-10-01'), tier: 'archive' }), cell({ dayMs: day('2026-10-01'), tier: 'warm' })] }), p, NOW);
  assert.deepEqual(plan.moves.map((m) => [m.data.fromTier, m.data.toTier]), [['warm', 'cold']]);
});

/** An agent's checkpoints: `perDay` a day for `days` days up to yesterday, at 06:00, 12:00, 18:00... */
function checkpoints(agentId: string, days: number, perDay: number, tier: CheckpointEntry['tier'] = 'warm'): CheckpointEntry[] {
  const out: CheckpointEntry[] = [];
  for (let d = days; d >= 1; d--) {
    for (let i = 0; i < perDay; i++) {
      const at = day('2026-12-01') - d * DAY_MS + (i + 1) * 3600_000;
      out.push({ agentId, eventId: derivedEventId(at, `${agentId}/${at}`), occurredAt: at, tier, streamSeq: out.length + 1, bytes: 500 });
    }
  }
  return out;
}

test('planner - checkpoints: the newest N and the newest of each day stay; the rest go to the archive by id, day by day', () => {
  const cps = checkpoints('a1', 40, 3); // 120 checkpoints over 40 days
  const plan = planMoves(inv({ checkpoints: cps }), P, NOW);
  const moved = new Set(plan.moves.flatMap((m) => m.data.recordIds));
  const newest = [...cps].sort((a, b) => b.occurredAt - a.occurredAt);
  for (const e of newest.slice(0, 20)) assert.ok(!moved.has(e.eventId), 'the newest 20 stay');
  const newestOfDay = new Map<number, CheckpointEntry>();
  for (const e of newest) if (!newestOfDay.has(Math.floor(e.occurredAt / DAY_MS))) newestOfDay.set(Math.floor(e.occurredAt / DAY_MS), e);
  for (const e of newest.slice(20)) {
    const d = Math.floor(e.occurredAt / DAY_MS) * DAY_MS;
    const kept = newestOfDay.get(d / DAY_MS) === e;
    // Kept daily ones older than 30 days go too (archiveAfterDays).
    const expect = !kept || d + 31 * DAY_MS <= NOW;
    assert.equal(moved.has(e.eventId), expect, `checkpoint of ${new Date(e.occurredAt).toISOString()}`);
  }
  for (const m of plan.moves) {
    assert.equal(m.data.kind, 'checkpoint');
    assert.equal(m.data.dayMs, 0);
    assert.deepEqual([m.data.fromTier, m.data.toTier], ['warm', 'archive']);
    const ds = new Set(m.data.recordIds.map((id) => Math.floor(cps.find((c) => c.eventId === id)!.occurredAt / DAY_MS)));
    assert.equal(ds.size, 1, 'one move per UTC day');
  }
  const first = plan.moves.find((m) => m.data.policy === 'checkpoint.keepLast')!;
  assert.match(first.data.reason, /^not among the newest 20 checkpoints of the agent nor the newest of its UTC day 2026-10-22 \(checkpoint.keepLast = 20, checkpoint.keepDaily = true\) as of 2026-12-01T09:30:00.000Z$/);
  const aged = plan.moves.find((m) => m.data.policy === 'checkpoint.archiveAfterDays')!;
  assert.match(aged.data.reason, /^the newest checkpoint of 2026-10-2\d, older than 30 days \(checkpoint.archiveAfterDays = 30\) and not among the newest 20/);
  assert.deepEqual(planMoves(applyPlan(inv({ checkpoints: cps }), plan), P, NOW).moves, []);
});

test('planner - checkpoints past deleteAfterDays are deleted, except the newest N and held ones', () => {
  const p = parseLifecyclePolicy('{"checkpoint": {"keepLast": 2, "deleteAfterDays": 60}}');
  const cps = checkpoints('a1', 70, 1, 'archive'); // one a day, all archived: the 10 days wholly older than 60 go
  const held = cps[0]!; // the oldest
  const plan = planMoves(inv({ checkpoints: cps, holds: [{ agentId: 'a1', recordId: held.eventId }] }), p, NOW);
  const deleted = plan.moves.filter((m) => m.data.toTier === 'deleted').flatMap((m) => m.data.recordIds);
  assert.equal(deleted.length, 9, 'the 10 old ones but the held one');
  assert.ok(!deleted.includes(held.eventId));
  assert.deepEqual(plan.heldBack.map((h) => h.recordIds), [[held.eventId]]);
  const keep = planMoves(inv({ checkpoints: checkpoints('a9', 3, 1, 'archive').map((e) => ({ ...e, occurredAt: e.occurredAt - 400 * DAY_MS })) }), p, NOW);
  assert.deepEqual(keep.moves.map((m) => m.data.recordIds.length), [1], 'of an idle agent, the last 2 stay even a year on');
});

test('planner - bytes per tier, estimated with the measured compression ratio', () => {
  const plan = planMoves(inv({
    compressionRatio: 0.2,
    days: [cell({ dayMs: day('2026-11-01'), bytes: 10_000 }), cell({ dayMs: day('2026-06-01'), tier: 'cold', bytes: 3_000 }), cell({ dayMs: day('2026-11-30'), bytes: 5_000 })],
  }), P, NOW);
  assert.deepEqual(plan.bytes, {
    warm: { before: 15_000, after: 5_000, saved: 10_000 },
    cold: { before: 3_000, after: 2_000, saved: 1_000 },
    archive: { before: 0, after: 3_000, saved: -3_000 },
  });
});

test('planner - memories: promoted by recalls and importance, demoted when idle', () => {
  const plan = planMoves(inv({
    memories: [
      { agentId: 'a1', memoryId: 'm-hot-soon', tier: 'warm', importance: 0.5, accessesInWindow: 2, lastAccessedAt: NOW - 60_000 },
      { agentId: 'a1', memoryId: 'm-rare', tier: 'warm', importance: 0, accessesInWindow: 1, lastAccessedAt: NOW - 60_000 },
      { agentId: 'a1', memoryId: 'm-idle', tier: 'hot', importance: 0.9, accessesInWindow: 0, lastAccessedAt: NOW - 2 * DAY_MS },
      { agentId: 'a1', memoryId: 'm-busy', tier: 'hot', importance: 0.9, accessesInWindow: 4, lastAccessedAt: NOW - 60_000 },
    ],
  }), P, NOW);
  assert.deepEqual(plan.moves.map((m) => [m.data.recordIds, m.data.fromTier, m.data.toTier, m.data.policy]), [
    [['m-hot-soon'], 'warm', 'hot', 'memory.promoteAccesses'],
    [['m-idle'], 'hot', 'warm', 'memory.hotIdleMinutes'],
  ]);
});

test('planner - without an archive store, nothing is planned into the archive; cold and deletion still apply', () => {
  const plan = planMoves(inv({
    days: [cell({ dayMs: day('2026-08-01') }), cell({ kind: 'recall', dayMs: day('2025-01-01'), tier: 'cold' })],
    checkpoints: checkpoints('a1', 10, 3),
  }), P, NOW, { archive: false });
  assert.deepEqual(plan.moves.map((m) => [m.data.kind, m.data.fromTier, m.data.toTier, m.data.policy]), [
    ['decision', 'warm', 'cold', 'decision.coldAfterDays'],
    ['recall', 'cold', 'deleted', 'recall.deleteAfterDays'],
  ]);
});
