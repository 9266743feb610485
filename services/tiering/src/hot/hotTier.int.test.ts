import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionOf } from '@farmbrain/contracts';
import { HotView, readAgentViews, type ViewLimits } from '@farmbrain/store';
import { makeEvent, publishEvents, TestStack, tradingSession, waitFor } from '@farmbrain/testing';

// The hot tier keeps, per agent, a complete copy of its view or none at all.
const KEEP: ViewLimits = { decisions: 10, memories: 10 };
const stack = new TestStack({ partitions: 2, env: { FB_HOT_DECISIONS: String(KEEP.decisions), FB_HOT_MEMORIES: String(KEEP.memories) } });
let hot: HotView;
const session = tradingSession({ agents: 4, eventsPerAgent: 120, prefix: 'hot' });

/** Every agent's hot copy equals the view rebuilt from Postgres. */
async function assertHotEqualsWarm(agents: string[]): Promise<void> {
  const warm = await readAgentViews(stack.pool, agents, KEEP);
  for (const a of agents) {
    assert.deepEqual(await hot.read(a, KEEP), warm.get(a), `hot copy of ${a} equals its view rebuilt from Postgres`);
  }
}

before(async () => {
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering');
  hot = new HotView(stack.redis, stack.names.redisPrefix, KEEP);
  for (const evs of session) await publishEvents(stack.js, stack.names, evs);
  await stack.caughtUp();
});
after(() => stack.destroy());

test('hot tier - every agent has a complete copy equal to its view in Postgres, with trimming and forgets', async () => {
  const agents = session.map((evs) => evs[0]!.agentId);
  const warm = await readAgentViews(stack.pool, agents, KEEP);
  assert.ok([...warm.values()].every((v) => v.decisions.length === KEEP.decisions), 'more decisions than kept: the copy is trimmed');
  await assertHotEqualsWarm(agents);
});

test('hot tier - a copy Redis lost is not served, and the next event of the agent rebuilds it whole', async () => {
  const agent = session[0]![0]!.agentId;
  await stack.redis.del(`${stack.names.redisPrefix}agent:${agent}:decisions`, `${stack.names.redisPrefix}agent:${agent}`);
  assert.equal(await hot.read(agent, KEEP), undefined, 'an incomplete copy reads as none');
  const last = session[0]![session[0]!.length - 1]!;
  await publishEvents(stack.js, stack.names, [makeEvent(agent, 'agent_state_changed', { status: 'paused' }, { producerSeq: last.producerSeq + 1, occurredAt: last.occurredAt + 1 })]);
  await stack.caughtUp();
  await waitFor('the copy to be rebuilt', async () => (await hot.read(agent, KEEP)) !== undefined, 10_000);
  await assertHotEqualsWarm([agent]);
  assert.equal((await hot.read(agent, KEEP))!.summary.status, 'paused');
});

test('hot tier - decisions recorded out of producer order are kept newest first by time, as Postgres lists them', async () => {
  const agent = 'hot-ooo';
  const t0 = Date.now() - 10_000;
  const evs = [5, 3, 9, 1, 7, 2, 8, 12, 4, 11, 6, 10].map((k, i) =>
    makeEvent(agent, 'decision_made', { symbol: 'BTC', action: 'buy', confidence: 0.5 }, { producerSeq: 100 - i, occurredAt: t0 + k * 100 }));
  // Each in its own message: producer sequences go backwards from message to message.
  for (const e of evs) await publishEvents(stack.js, stack.names, [e]);
  await stack.caughtUp();
  const view = await hot.read(agent, KEEP);
  assert.ok(view, 'the agent is hot');
  assert.deepEqual(view.decisions.map((d) => Date.parse(d.occurredAt!) - t0), [1200, 1100, 1000, 900, 800, 700, 600, 500, 400, 300]);
  await assertHotEqualsWarm([agent]);
});

test('hot tier - Redis restored from an older snapshot (copies that say complete but lack changes) is caught, and the copies are rebuilt', async () => {
  const first = session[1]!;
  const agent = first[0]!.agentId;
  const p = partitionOf(agent, stack.names.partitions);
  // The snapshot: the agent's keys and the partition's mark, as they are now.
  const keys = [...(await stack.redis.keys(`${stack.names.redisPrefix}agent:${agent}*`)), `${stack.names.redisPrefix}hot:through:${p}`];
  const snapshot = await Promise.all(keys.map(async (k) => [k, await stack.redis.dumpBuffer(k)] as const));
  // Later changes, then Redis "comes back" from the snapshot: the copy says complete, and lacks them.
  const last = first[first.length - 1]!;
  const later = [1, 2, 3].map((i) => makeEvent(agent, 'decision_made', { symbol: 'SOL', action: 'sell', confidence: 0.4, rationale: `after the snapshot ${i}` },
    { producerSeq: last.producerSeq + 10 + i, occurredAt: last.occurredAt + 10_000 + i }));
  await publishEvents(stack.js, stack.names, later);
  await stack.caughtUp();
  await assertHotEqualsWarm([agent]);
  for (const [k, v] of snapshot) if (v) await stack.redis.restore(k, 0, v, 'REPLACE');
  assert.ok((await hot.read(agent, KEEP))!.decisions.every((d) => !d.rationale.startsWith('after the snapshot')), 'the fault hit: the copy is stale and says complete');
  // The next batch of that partition notices Redis holds less than was written to it.
  const next = makeEvent(agent, 'agent_state_changed', { status: 'active' }, { producerSeq: last.producerSeq + 100, occurredAt: last.occurredAt + 20_000 });
  await publishEvents(stack.js, stack.names, [next]);
  await stack.caughtUp();
  await waitFor('the stale copy to be rebuilt', async () => (await hot.read(agent, KEEP))?.decisions.some((d) => d.rationale.startsWith('after the snapshot')), 10_000);
  // The partition's other copies were marked incomplete too, and rebuilt in the background.
  const all = session.map((evs) => evs[0]!.agentId);
  await waitFor('every copy to be complete again', async () => (await Promise.all(all.map((a) => hot.read(a, KEEP)))).every(Boolean), 10_000);
  await assertHotEqualsWarm(all);
});
