import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIFECYCLE_POLICY, planMoves, publishMoves, readInventory, waitApplied } from '@farmbrain/lifecycle';
import { memdocKey } from '@farmbrain/store';
import { TestStack, waitFor } from '@farmbrain/testing';

// Memory tiers by policy: a memory recalled often is promoted to hot (its content kept in Redis for the
// memory policy's hotIdleMinutes, not the recall cache's short TTL) and demoted when idle, each move an
// event on the log, under a clock the test controls.
const stack = new TestStack({ partitions: 2, env: { FB_HOT_MEMORY_TTL_S: '60' } });
const policy = DEFAULT_LIFECYCLE_POLICY;

before(async () => {
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering', { FB_LIFECYCLE: 'false' });
  await stack.start('gateway');
});
after(() => stack.destroy());

async function runPolicies(now: number) {
  const plan = planMoves(await readInventory(stack.pool, { now, policy }), policy, now);
  const memoryMoves = plan.moves.filter((m) => m.data.kind === 'memory');
  // Planned at the test's clock, published at the real one (ingest refuses events from the future).
  const { consistencyToken } = await publishMoves(stack.js, stack.names, memoryMoves.map((m) => ({ ...m, occurredAt: Math.min(m.occurredAt, Date.now()) })));
  if (consistencyToken) await waitApplied(stack.pool, { projection: 'tiering.v1', partitions: stack.names.partitions, token: consistencyToken, timeoutMs: 30_000 });
  return memoryMoves;
}

const tierOf = async (id: string) => (await stack.pool.query<{ tier: string }>('SELECT tier FROM memories WHERE memory_id = $1', [id])).rows[0]?.tier;

test('memory tiers - recalled often: promoted to hot and held in Redis longer; idle: demoted to warm; explain names the tier and the policy', async () => {
  const w = await stack.post<{ memoryId: string; consistencyToken: string }>('/v1/agents/mt-1/memories', { kind: 'lesson', text: 'thin weekend breakouts fade within the hour', tags: ['BTC-USD'], importance: 0.2 });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  const other = await stack.post<{ memoryId: string; consistencyToken: string }>('/v1/agents/mt-1/memories', { kind: 'fact', text: 'exchange maintenance window is Tuesday 02:00 UTC', importance: 0.2 });
  const id = w.body.memoryId;
  let token = other.body.consistencyToken;
  for (let i = 0; i < policy.memory.promoteAccesses; i++) {
    const r = await stack.post<{ hits: { memory: { memoryId: string } }[] }>('/v1/agents/mt-1/recall', { query: 'weekend breakouts fade', k: 1, consistency: token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.hits[0]?.memory.memoryId, id);
  }
  await stack.caughtUp();
  assert.equal(await tierOf(id), 'warm');

  const now = Date.now() + 1000;
  const promoted = await runPolicies(now);
  assert.deepEqual(promoted.map((m) => [m.data.recordIds, m.data.fromTier, m.data.toTier, m.data.policy]), [[[id], 'warm', 'hot', 'memory.promoteAccesses']]);
  assert.equal(await tierOf(id), 'hot');
  assert.equal(await tierOf(other.body.memoryId), 'warm', 'the memory never recalled stays warm');
  assert.equal(await stack.redis.exists(memdocKey(stack.names.redisPrefix, id)), 0, 'its cached content was dropped, to be cached again as hot');
  const explain = await stack.get<{ tier: string; next: { toTier: string; policy: string } | null }>(`/v1/lifecycle/explain/${id}`);
  assert.equal(explain.body.tier, 'hot');
  assert.deepEqual({ to: explain.body.next?.toTier, policy: explain.body.next?.policy }, { to: 'warm', policy: 'memory.hotIdleMinutes' });

  // Recalled while hot: cached for hotIdleMinutes (a day), not the recall cache's 60 s.
  const r = await stack.post<{ hits: { tier: string }[] }>('/v1/agents/mt-1/recall', { query: 'weekend breakouts fade', k: 1 });
  assert.equal(r.status, 200);
  const ttl = await waitFor('the hot memory cached', async () => {
    const t = await stack.redis.ttl(memdocKey(stack.names.redisPrefix, id));
    return t > 0 ? t : undefined;
  });
  assert.ok(ttl > 3600 && ttl <= policy.memory.hotIdleMinutes * 60, `held ${ttl} s`);
  const again = await stack.post<{ hits: { tier: string }[] }>('/v1/agents/mt-1/recall', { query: 'weekend breakouts fade', k: 1 });
  assert.equal(again.body.hits[0]?.tier, 'hot');
  await stack.caughtUp();

  // Nothing more to do at the same time; idle past hotIdleMinutes: back to warm.
  assert.deepEqual(await runPolicies(now + 1000), []);
  const demoted = await runPolicies(now + (policy.memory.hotIdleMinutes + 5) * 60_000);
  assert.deepEqual(demoted.map((m) => [m.data.fromTier, m.data.toTier, m.data.policy]), [['hot', 'warm', 'memory.hotIdleMinutes']]);
  assert.equal(await tierOf(id), 'warm');
  const moves = (await stack.pool.query<{ from_tier: string; to_tier: string; records: number }>("SELECT from_tier, to_tier, records FROM lifecycle_moves WHERE kind = 'memory' ORDER BY moved_at")).rows;
  assert.deepEqual(moves.map((m) => [m.from_tier, m.to_tier, m.records]), [['warm', 'hot', 1], ['hot', 'warm', 1]], 'each move is on record');
});
