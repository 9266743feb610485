import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ACTIONS, SITUATION_BOUND } from '@farmbrain/contracts';
import { Fleet, resolvePolicy } from './fleet.js';
import { Market, WARM_UP_TICKS } from './market.js';
import { FakeWorld } from './testing/fakeWorld.js';

// A fixed seed, so a failure reproduces. FB_PROPERTY_RUNS=N runs N cases with a fresh seed (printed on failure).
const LOCAL_RUNS = Number(process.env.FB_PROPERTY_RUNS ?? '');
const params = (numRuns: number): fc.Parameters<unknown> => (LOCAL_RUNS > 0 ? { numRuns: LOCAL_RUNS } : { seed: 42, numRuns });

test('the market never yields a non-finite or non-positive price, nor non-finite features, whatever the seed', () => {
  fc.assert(fc.property(fc.integer(), fc.integer({ min: 100, max: 3000 }), (seed, steps) => {
    const m = new Market(seed);
    for (let i = 0; i < steps; i++) {
      m.step();
      for (const s of m.symbols) {
        const p = m.price(s);
        assert.ok(Number.isFinite(p) && p > 0, `seed ${seed} step ${i}: ${s} at ${p}`);
        assert.ok(Number.isFinite(m.spec(s).funding));
      }
      if (i >= WARM_UP_TICKS && i % 25 === 0) {
        for (const s of m.symbols) {
          const f = m.features(s);
          for (const [k, v] of Object.entries(f)) if (typeof v === 'number') assert.ok(Number.isFinite(v), `seed ${seed} step ${i}: ${s} ${k}=${v}`);
          assert.ok(f.situation.every((x) => Number.isFinite(x) && Math.abs(x) <= 1));
        }
      }
    }
  }), params(150));
});

test('every event the fleet emits passes the contracts\' validateEvent, for any seed, size, session, gateway and failures', async () => {
  await fc.assert(fc.asyncProperty(
    fc.record({
      seed: fc.integer(),
      agents: fc.integer({ min: 1, max: 14 }),
      session: fc.integer({ min: 1, max: 6 }),
      gateway: fc.boolean(),
      failWritesEvery: fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 40 })),
      failReadsEvery: fc.oneof(fc.constant(0), fc.integer({ min: 2, max: 12 })),
      ticks: fc.integer({ min: 40, max: 160 }),
      emptyPolicy: fc.boolean(),
    }),
    async (c) => {
      const world = new FakeWorld({ failWritesEvery: c.failWritesEvery, failReadsEvery: c.failReadsEvery, lastSession: c.session - 1 });
      const fleet = new Fleet({
        agents: c.agents, seed: c.seed, session: c.session, runTag: 'prop', policy: resolvePolicy(c.emptyPolicy ? '' : undefined, c.agents),
        sdkFor: world.sdkFor, gateway: c.gateway ? world.gateway : undefined, log: () => {}, now: world.now,
      });
      await fleet.start();
      if (c.gateway) await fleet.prepare();
      for (let i = 0; i < c.ticks; i++) {
        world.advance(250);
        await fleet.tick();
      }
      await fleet.stop(1000, true);
      const bad = world.recorded.filter((r) => r.issues.length > 0);
      assert.deepEqual(bad.map((r) => ({ type: r.event.type, issues: r.issues })), []);
      assert.ok(world.recorded.length > c.agents);
      for (const e of world.events) {
        if (e.type === 'decision_made') {
          assert.ok(ACTIONS.includes(e.data.action));
          assert.ok(e.data.confidence >= 0 && e.data.confidence <= 1);
          assert.ok(Number.isFinite(e.data.size) && e.data.size >= 0);
          assert.ok(e.data.situation.length === 0 || (e.data.situation.length === 4 && e.data.situation.every((x) => Math.abs(x) <= SITUATION_BOUND)));
          if (e.data.action === 'buy' || e.data.action === 'sell') assert.ok(e.data.size > 0);
        } else if (e.type === 'trade_executed') {
          assert.ok(e.data.qty > 0 && e.data.price > 0 && e.data.fees >= 0);
        } else if (e.type === 'position_closed') {
          assert.ok(Number.isFinite(e.data.realizedPnl) && e.data.exitPrice > 0);
        } else if (e.type === 'memory_stored') {
          assert.ok(e.data.importance >= 0 && e.data.importance <= 1);
          if (c.emptyPolicy) assert.equal(e.data.scope, 'agent');
        }
      }
    },
  ), params(40));
});
