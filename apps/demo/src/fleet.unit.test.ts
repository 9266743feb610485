import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_SCOPE_POLICY, type EventOf } from '@farmbrain/contracts';
import { Fleet, resolvePolicy, type FleetOptions } from './fleet.js';
import { FakeWorld, type FakeWorldOptions } from './testing/fakeWorld.js';

const TICK_MS = 500;

/** A fleet on a fake farmbrain, run `ticks` ticks and stopped cleanly. */
async function simulate(ticks: number, o: Partial<FleetOptions> & { world?: FakeWorldOptions; withGateway?: boolean } = {}) {
  const world = new FakeWorld(o.world);
  const logs: string[] = [];
  const agents = o.agents ?? 6;
  const session = o.session ?? 1;
  const fleet = new Fleet({
    agents, seed: 42, session, runTag: 'run', policy: resolvePolicy(undefined, agents), log: (m) => logs.push(m),
    sdkFor: world.sdkFor, gateway: o.withGateway ? world.gateway : undefined, now: world.now, ...o,
  });
  await fleet.start();
  if (o.withGateway) await fleet.prepare();
  const before: typeof fleet.stats[] = [];
  for (let i = 0; i < ticks; i++) {
    world.advance(TICK_MS);
    await fleet.tick();
  }
  before.push({ ...fleet.stats });
  await fleet.stop(1000, true);
  return { world, fleet, logs, statsBeforeStop: before[0]! };
}

const invalid = (world: FakeWorld) => world.recorded.filter((r) => r.issues.length > 0).map((r) => ({ type: r.event.type, issues: r.issues }));
const ofType = <T extends EventOf<'decision_made'>['type'] | EventOf<'checkpoint_saved'>['type']>(world: FakeWorld, type: T) =>
  world.events.filter((e): e is EventOf<T> => e.type === type);

test('1000 ticks of the fleet without a gateway: the same counts as scripts/demo-fleet.mjs, every event valid, books flat at the end', async () => {
  const { world, fleet, logs, statsBeforeStop } = await simulate(1000);
  // What the old fleet counted after 1000 ticks with seed 42 and 6 agents.
  assert.deepEqual(statsBeforeStop, {
    decisions: 7411, trades: 1240, closes: 617, memories: 1024, shared: 144, updates: 382, forgets: 552, checkpoints: 300,
    recalls: 0, similar: 0, errors: 0, readErrors: 0,
  });
  assert.deepEqual(invalid(world), []);
  assert.equal(fleet.openPositions, 0);
  assert.equal(logs.filter((l) => l.startsWith('demo fleet: tick ')).length, 25, 'a progress line every 40 ticks');
  for (const a of fleet.traders) {
    const mine = world.events.filter((e) => e.agentId === a.id);
    const last = mine.at(-1);
    assert.equal(last?.type, 'agent_state_changed');
    assert.equal(last.type === 'agent_state_changed' && last.data.status, 'stopped');
    const checkpoints = ofType(world, 'checkpoint_saved').filter((e) => e.agentId === a.id);
    assert.equal(checkpoints.at(-1)?.data.label, 'shutdown');
    const state = JSON.parse(new TextDecoder().decode(checkpoints.at(-1)?.data.state)) as { positions: object; agentTicks: number };
    assert.deepEqual(state.positions, {});
    assert.equal(state.agentTicks, 1000);
    // Trades and closes pair up: every position opened was closed.
    const trades = mine.filter((e) => e.type === 'trade_executed').length;
    const closes = mine.filter((e) => e.type === 'position_closed').length;
    assert.equal(trades, 2 * closes);
    assert.ok(world.clients.get(a.id)?.closed);
  }
  assert.ok(world.clients.get('risk-desk')?.closed);
});

test('the same seed replays the same events (ids aside); another seed does not', async () => {
  const o = { withGateway: true, world: { failWritesEvery: 29, failReadsEvery: 7 } };
  const a = await simulate(300, o);
  const b = await simulate(300, o);
  assert.deepEqual(b.world.normalized(), a.world.normalized());
  assert.deepEqual(b.fleet.stats, a.fleet.stats);
  const c = await simulate(300, { ...o, seed: 43 });
  assert.notDeepEqual(c.world.normalized(), a.world.normalized());
});

test('with the gateway: decisions cite recalls, leads keep playbooks, the risk desk its limits; leftovers are closed', async () => {
  const { world, fleet, logs } = await simulate(200, {
    withGateway: true,
    world: { leftovers: { 'momo-1': [{ symbol: 'BTC-USD', qty: -0.5, avgPrice: 61000, fees: 12.2, decisionIds: ['old-decision'] }] } },
  });
  assert.deepEqual(invalid(world), []);
  const decisions = ofType(world, 'decision_made');
  assert.ok(decisions.some((d) => d.data.recallIds.length === 1 && d.data.memoryIds.length > 0 && /\[memory: /.test(d.data.rationale)));
  const playbooks = world.events.filter((e) => e.type === 'memory_stored' && e.data.kind === 'procedure');
  assert.deepEqual(playbooks.map((e) => e.type === 'memory_stored' && `${e.agentId} ${e.data.scope} ${e.data.scopeId}`).sort(),
    ['brk-1 team breakout', 'momo-1 team momentum', 'mrev-1 team mean-reversion']);
  assert.ok(world.events.some((e) => e.type === 'memory_stored' && e.agentId === 'risk-desk' && e.data.kind === 'fact' && e.data.scope === 'fleet'));
  const leftover = world.events.find((e) => e.type === 'position_closed' && e.agentId === 'momo-1');
  assert.ok(leftover?.type === 'position_closed');
  assert.deepEqual([leftover.data.realizedPnl, leftover.data.exitPrice, leftover.data.decisionIds[0]], [-12.2, 61000, 'old-decision']);
  assert.ok(logs.some((l) => l === 'momo-1 closes the short 0.5 BTC-USD an earlier run left open: P&L -$12.20'));
  assert.ok(fleet.stats.recalls > 0 && fleet.stats.similar > 0);
});

test('a second run updates the shared memories the first stored instead of storing them again', async () => {
  const world = new FakeWorld();
  for (const run of ['one', 'two']) {
    const fleet = new Fleet({ agents: 3, seed: 42, session: 1, runTag: run, policy: resolvePolicy(undefined, 3), log: () => {}, sdkFor: world.sdkFor, gateway: world.gateway, now: world.now });
    await fleet.start();
    await fleet.prepare();
    await fleet.stop(1000, true);
  }
  const stored = world.events.filter((e) => e.type === 'memory_stored' && (e.data.kind === 'procedure' || e.data.kind === 'fact'));
  const updated = world.events.filter((e) => e.type === 'memory_updated');
  assert.equal(stored.length, 4, 'three playbooks and the risk limits, once');
  assert.equal(updated.length, 4);
});

test('under a policy that refuses shared scopes the fleet keeps everything private and says so once per scope', async () => {
  const { world, logs } = await simulate(300, { withGateway: true, policy: EMPTY_SCOPE_POLICY });
  assert.deepEqual(invalid(world), []);
  assert.ok(world.events.every((e) => e.type !== 'memory_stored' || e.data.scope === 'agent'));
  const said = logs.filter((l) => l.includes('private: '));
  assert.deepEqual(said.map((l) => l.split(':')[0]).sort(), ['brk-1', 'momo-1', 'mrev-1', 'risk-desk']);
});

test('later sessions trade another stretch of the market', async () => {
  const one = await simulate(100, { session: 1 });
  const two = await simulate(100, { session: 2 });
  assert.notDeepEqual(two.world.normalized(), one.world.normalized());
  assert.equal(two.fleet.startLines(500, 42, undefined)[0]?.includes("session 2 (earlier sessions' memories are recalled)"), true);
});
