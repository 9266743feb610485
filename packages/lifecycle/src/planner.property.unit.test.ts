import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { defaultEventLimits, derivedEventId, encodeEvent, validateEvent } from '@farmbrain/contracts';
import { propertyRuns } from '@farmbrain/testing';
import {
  applyPlan,
  checkLifecyclePolicy,
  colder,
  DAY_MS,
  dayOlderThan,
  DEFAULT_LIFECYCLE_POLICY,
  moveEvents,
  planMoves,
  STORED_TIERS,
  utcDay,
  type CheckpointEntry,
  type DayCell,
  type Inventory,
  type LifecyclePolicy,
  type MemoryUsage,
} from './index.js';

const NOW = Date.UTC(2026, 11, 1, 9, 30);
const AGENTS = ['a0', 'a1', 'a2'];

/** Ages in order (cold < archive < delete), each maybe null. */
const ages = (max: number) =>
  fc.tuple(fc.option(fc.integer({ min: 0, max }), { nil: null }), fc.option(fc.integer({ min: 0, max }), { nil: null }), fc.option(fc.integer({ min: 0, max }), { nil: null }))
    .map((xs) => {
      const set = [...new Set(xs.filter((x): x is number => x !== null))].sort((a, b) => a - b);
      const out: (number | null)[] = xs.map(() => null);
      // Keep the nulls where they were, and the numbers in increasing order over the others.
      let i = 0;
      xs.forEach((x, k) => { if (x !== null && i < set.length) out[k] = set[i++]!; });
      return { coldAfterDays: out[0]!, archiveAfterDays: out[1]!, deleteAfterDays: out[2]! };
    });

const policyArb: fc.Arbitrary<LifecyclePolicy> = fc.record({
  decision: ages(200), trade: ages(200), recall: ages(200),
  checkpoint: fc.record({ keepLast: fc.integer({ min: 0, max: 6 }), keepDaily: fc.boolean(), a: ages(200) }).map(({ keepLast, keepDaily, a }) => ({ keepLast, keepDaily, archiveAfterDays: a.coldAfterDays, deleteAfterDays: a.archiveAfterDays })),
  memory: fc.record({ promoteAccesses: fc.integer({ min: 0, max: 5 }), promoteWindowMinutes: fc.integer({ min: 1, max: 600 }), importanceWeight: fc.double({ min: 0, max: 5, noNaN: true }), extraIdle: fc.integer({ min: 0, max: 3000 }) })
    .map(({ extraIdle, ...m }) => ({ ...m, hotIdleMinutes: m.promoteWindowMinutes + extraIdle, decay: DEFAULT_LIFECYCLE_POLICY.memory.decay })),
}).map((p) => checkLifecyclePolicy(p));

const dayCells = fc.uniqueArray(
  fc.record({
    agentId: fc.constantFrom(...AGENTS), kind: fc.constantFrom('decision' as const, 'trade' as const, 'recall' as const),
    age: fc.integer({ min: 0, max: 500 }), tier: fc.constantFrom(...STORED_TIERS),
    records: fc.integer({ min: 1, max: 50 }), lastSeq: fc.integer({ min: 1, max: 1e6 }), bytes: fc.integer({ min: 0, max: 1e6 }),
    heldRecords: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  }).map(({ age, ...c }): DayCell => ({ ...c, dayMs: utcDay(NOW) - age * DAY_MS })),
  { selector: (c) => `${c.agentId}|${c.kind}|${c.dayMs}|${c.tier}`, maxLength: 40 },
);

const checkpointArb = fc.uniqueArray(
  fc.record({ agentId: fc.constantFrom(...AGENTS), atAgo: fc.integer({ min: 0, max: 400 * 24 }), tier: fc.constantFrom(...STORED_TIERS), n: fc.nat(1e6) })
    .map(({ atAgo, n, ...e }): CheckpointEntry => {
      const at = NOW - atAgo * 3600_000;
      return { ...e, occurredAt: at, eventId: derivedEventId(at, `cp${n}`), streamSeq: n, bytes: 100 };
    }),
  { selector: (e) => e.eventId, maxLength: 40 },
);

/** Consistent usage: recalls in the window iff the last recall is in it. */
const memoryArb = (windowMinutes: number) => fc.uniqueArray(
  fc.record({ agentId: fc.constantFrom(...AGENTS), memoryId: fc.string({ unit: fc.constantFrom('m', 'n', '1', '2', '-'), minLength: 1, maxLength: 6 }), tier: fc.constantFrom('hot' as const, 'warm' as const), importance: fc.double({ min: 0, max: 1, noNaN: true }), accesses: fc.integer({ min: 0, max: 6 }), lastAgoMin: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: null }) })
    .map(({ accesses, lastAgoMin, ...m }): MemoryUsage => {
      const inWindow = lastAgoMin !== null && lastAgoMin * 60_000 < windowMinutes * 60_000;
      return { ...m, accessesInWindow: inWindow ? Math.max(1, accesses) : 0, lastAccessedAt: lastAgoMin === null ? null : NOW - lastAgoMin * 60_000 };
    }),
  { selector: (m) => `${m.agentId}/${m.memoryId}`, maxLength: 12 },
);

const scenario = policyArb.chain((policy) => fc.record({
  policy: fc.constant(policy),
  days: dayCells,
  checkpoints: checkpointArb,
  memories: memoryArb(policy.memory.promoteWindowMinutes),
  heldAgents: fc.subarray(AGENTS, { maxLength: 1 }),
  heldCheckpoints: fc.nat(),
  ratio: fc.double({ min: 0.01, max: 1, noNaN: true }),
  archive: fc.boolean(),
}).map(({ policy: p, days, checkpoints, memories, heldAgents, heldCheckpoints, ratio, archive }) => {
  const holds = [...heldAgents.map((agentId) => ({ agentId, recordId: '' })), ...checkpoints.filter((_, i) => (heldCheckpoints >> (i % 30)) & 1 && i % 3 === 0).map((e) => ({ agentId: e.agentId, recordId: e.eventId }))];
  const inv: Inventory = { days, checkpoints, memories, holds, compressionRatio: ratio, notes: [] };
  return { policy: p, inv, opts: { archive } };
}));

test('planner (property) - never deletes a held record, never moves to a hotter tier by age, and each move is due', () => {
  fc.assert(fc.property(scenario, ({ policy, inv, opts }) => {
    const plan = planMoves(inv, policy, NOW, opts);
    const heldAgents = new Set(inv.holds.filter((h) => h.recordId === '').map((h) => h.agentId));
    const heldIds = new Set(inv.holds.filter((h) => h.recordId !== '').map((h) => h.recordId));
    for (const m of plan.moves) {
      const { kind, fromTier, toTier, dayMs, recordIds, policy: name } = m.data;
      if (kind !== 'memory') assert.ok(colder(fromTier, toTier), `${fromTier} → ${toTier} is not colder`);
      if (!opts.archive) assert.notEqual(toTier, 'archive', 'a move into the archive without an archive store');
      if (toTier === 'deleted') {
        assert.ok(!heldAgents.has(m.agentId), 'a held agent lost records');
        for (const id of recordIds) assert.ok(!heldIds.has(id), 'a held checkpoint was deleted');
        if (dayMs !== 0) {
          const held = inv.days.filter((c) => c.agentId === m.agentId && c.kind === kind && c.dayMs === dayMs).some((c) => c.heldRecords > 0);
          assert.ok(!held, 'a day holding a held record was deleted');
        }
      }
      if (dayMs !== 0) {
        const key = name.split('.')[1] as 'coldAfterDays' | 'archiveAfterDays' | 'deleteAfterDays';
        const age = policy[kind as 'decision'][key];
        assert.ok(age !== null && dayOlderThan(dayMs, age, NOW), `${name} moved a day not yet older than ${age} days`);
      }
      assert.ok(m.data.reason.includes(name.startsWith('memory') ? name : `${name} = `), `reason names the policy and its value: ${m.data.reason}`);
    }
    // Checkpoints: the newest keepLast of each agent never move.
    for (const agent of AGENTS) {
      const newest = inv.checkpoints.filter((e) => e.agentId === agent).sort((a, b) => b.occurredAt - a.occurredAt || (a.eventId < b.eventId ? 1 : -1)).slice(0, policy.checkpoint.keepLast);
      const moved = new Set(plan.moves.filter((m) => m.agentId === agent).flatMap((m) => m.data.recordIds));
      for (const e of newest) assert.ok(!moved.has(e.eventId), 'one of the newest checkpoints moved');
    }
  }), propertyRuns(500));
});

test('planner (property) - idempotent: planning again once the plan is applied finds nothing to do', () => {
  fc.assert(fc.property(scenario, ({ policy, inv, opts }) => {
    const plan = planMoves(inv, policy, NOW, opts);
    const after = applyPlan(inv, plan);
    assert.deepEqual(planMoves(after, policy, NOW, opts).moves, []);
    // And the plan's byte figures are what the applied inventory holds.
    const warmAfter = after.days.filter((c) => c.tier === 'warm').reduce((n, c) => n + c.bytes, 0) + after.checkpoints.filter((e) => e.tier === 'warm').reduce((n, e) => n + e.bytes, 0);
    assert.equal(plan.bytes.warm.after, warmAfter);
  }), propertyRuns(500));
});

test('planner (property) - deterministic: the same ids whatever the order of the inventory, unique within a plan', () => {
  fc.assert(fc.property(scenario, fc.integer(), ({ policy, inv, opts }, seed) => {
    const shuffle = <T>(xs: readonly T[]): T[] => {
      const out = [...xs];
      let x = seed >>> 0;
      for (let i = out.length - 1; i > 0; i--) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        const j = x % (i + 1);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    };
    const a = planMoves(inv, policy, NOW, opts);
    const b = planMoves({ ...inv, days: shuffle(inv.days), checkpoints: shuffle(inv.checkpoints), memories: shuffle(inv.memories), holds: shuffle(inv.holds) }, policy, NOW, opts);
    assert.deepEqual(b, a);
    assert.equal(new Set(a.moves.map((m) => m.eventId)).size, a.moves.length);
  }), propertyRuns(300));
});

test('planner (property) - every move is a valid event by the contract, as ingest checks it', () => {
  fc.assert(fc.property(scenario, ({ policy, inv, opts }) => {
    for (const e of moveEvents(planMoves(inv, policy, NOW, opts).moves)) {
      assert.deepEqual(validateEvent(e, { limits: defaultEventLimits(), now: NOW, subjectAgentId: e.agentId, encodedBytes: encodeEvent(e).byteLength }), []);
    }
  }), propertyRuns(200));
});
