import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateNats, PrivatePostgres, PrivateRedis, TestStack } from '@farmbrain/testing';
import type { RecallResponse, WriteResult } from './memory/types.js';

/**
 * The gateway with a dependency down, on private servers (the shared ones are
 * never touched): a request that needs it answers 503 with a code naming it,
 * never 500; the Redis memory cache is only a cache, so recall goes on without it.
 */
let nats: PrivateNats;
let redis: PrivateRedis;
let postgres: PrivatePostgres;
let stack: TestStack;

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const r = await fetch(`${stack.gatewayUrl}${path}`, {
    method, signal: AbortSignal.timeout(30_000),
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: r.status, body: (await r.json()) as T };
}
const codeOf = (b: unknown) => (b as { error?: { code?: string } }).error?.code;

before(async () => {
  [nats, redis, postgres] = await Promise.all([PrivateNats.create(), PrivateRedis.create(), PrivatePostgres.create()]);
  await Promise.all([nats.start(), redis.start(), postgres.start()]);
  stack = new TestStack({ natsUrl: nats.url, env: { REDIS_URL: redis.url, DATABASE_URL: postgres.url } });
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  await stack.start('gateway');
  const r = await call('POST', '/v1/events', { events: [{ agentId: 'dep-1', type: 'agent_registered', data: { name: 'Dep' } }] });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  await stack.caughtUp();
});
after(async () => {
  await Promise.allSettled([nats.start(), redis.start(), postgres.start()]);
  await stack?.destroy();
  await Promise.allSettled([nats.destroy(), redis.destroy(), postgres.destroy()]);
});

test('dependencies - with Redis down, recall serves memory content from Postgres (tier warm) and still answers', async () => {
  const w = await call<WriteResult>('POST', '/v1/agents/dep-1/memories', { kind: 'lesson', text: 'redis is a cache, postgres the record' });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  const query = { query: 'redis cache postgres record', consistency: w.body.consistencyToken };
  await call<RecallResponse>('POST', '/v1/agents/dep-1/recall', query);
  const hot = await call<RecallResponse>('POST', '/v1/agents/dep-1/recall', query);
  assert.equal(hot.status, 200, JSON.stringify(hot.body));
  assert.equal(hot.body.hits.find((h) => h.memory.memoryId === w.body.memoryId)?.tier, 'hot', 'the second recall is served from the cache');
  await redis.stop();
  try {
    const warm = await call<RecallResponse>('POST', '/v1/agents/dep-1/recall', query);
    assert.equal(warm.status, 200, JSON.stringify(warm.body));
    const hit = warm.body.hits.find((h) => h.memory.memoryId === w.body.memoryId);
    assert.equal(hit?.tier, 'warm');
    assert.match(hit!.memory.text, /redis is a cache/);
  } finally {
    await redis.start();
  }
});

test('dependencies - with Postgres down, reads answer 503 POSTGRES_UNAVAILABLE, never 500', async () => {
  await postgres.stop();
  try {
    for (const path of ['/v1/agents', '/v1/agents/dep-1/decisions', '/v1/agents/dep-2/memories']) {
      const r = await call('GET', path);
      assert.equal(r.status, 503, `${path}: ${JSON.stringify(r.body)}`);
      assert.equal(codeOf(r.body), 'POSTGRES_UNAVAILABLE', path);
    }
  } finally {
    await postgres.start();
  }
  // Back by itself: the pool reconnects.
  const again = await call('GET', '/v1/agents/dep-1/decisions');
  assert.equal(again.status, 200, JSON.stringify(again.body));
});

test('dependencies - with NATS down, a write answers 503 NATS_UNAVAILABLE, never 500 or PUBLISH_FAILED', async () => {
  await nats.stop();
  try {
    const r = await call('POST', '/v1/events', { events: [{ agentId: 'dep-1', type: 'decision_made', data: { symbol: 'BTC', action: 'hold', confidence: 0.5 } }] });
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(codeOf(r.body), 'NATS_UNAVAILABLE');
    const m = await call('POST', '/v1/agents/dep-1/memories', { kind: 'fact', text: 'nobody hears this' });
    assert.equal(m.status, 503, JSON.stringify(m.body));
    assert.equal(codeOf(m.body), 'NATS_UNAVAILABLE');
  } finally {
    await nats.start();
  }
});
