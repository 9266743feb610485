import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FarmbrainAgent } from '@farmbrain/sdk';
import { TestStack } from '@farmbrain/testing';

const stack = new TestStack();
let agent: FarmbrainAgent;

before(async () => {
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  await stack.start('gateway');
  agent = new FarmbrainAgent({ agentId: 'api-1', connection: stack.nc, namespace: stack.namespace, partitions: stack.names.partitions });
});
after(async () => {
  await agent.close();
  await stack.destroy();
});

test('gateway - the HTTP write path goes through the log and shows up in reads', async () => {
  const state = Buffer.from('{"cash":1000}').toString('base64');
  const r = await stack.post<{ accepted: { eventId: string; streamSeq: number }[] }>('/v1/events', {
    events: [
      { agentId: 'http-1', type: 'agent_registered', data: { name: 'HTTP agent', team: 'web' } },
      { agentId: 'http-1', type: 'decision_made', data: { symbol: 'ETH', action: 'buy', confidence: 0.8, size: 2 } },
      { agentId: 'http-1', type: 'checkpoint_saved', data: { label: 'boot', state } },
    ],
  });
  assert.equal(r.status, 202);
  assert.equal(r.body.accepted.length, 3);
  await stack.caughtUp();
  const agentState = await stack.get<{ name: string; team: string; source: string; recentDecisions: { symbol: string }[] }>('/v1/agents/http-1');
  assert.equal(agentState.status, 200);
  assert.equal(agentState.body.name, 'HTTP agent');
  assert.equal(agentState.body.source, 'hot');
  assert.deepEqual(agentState.body.recentDecisions.map((d) => d.symbol), ['ETH']);
  const cps = await stack.get<{ items: { checkpointId: string; sizeBytes: number }[] }>('/v1/agents/http-1/checkpoints');
  assert.equal(cps.body.items[0]!.sizeBytes, 13);
  const one = await stack.get<{ state: string; label: string }>(`/v1/agents/http-1/checkpoints/${cps.body.items[0]!.checkpointId}`);
  assert.equal(Buffer.from(one.body.state, 'base64').toString(), '{"cash":1000}');
});

test('gateway - a request larger than one NATS message is split, in order, and fully stored', async () => {
  const big = Buffer.alloc(400 * 1024, 7).toString('base64');
  const r = await stack.post<{ accepted: { eventId: string; streamSeq: number }[] }>('/v1/events', {
    events: [0, 1, 2].map((i) => ({ agentId: 'http-big', type: 'checkpoint_saved', data: { label: `big-${i}`, state: big } })),
  });
  assert.equal(r.status, 202);
  const seqs = r.body.accepted.map((a) => a.streamSeq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  await stack.caughtUp();
  const cps = await stack.all<{ label: string; sizeBytes: number }>('/v1/agents/http-big/checkpoints');
  assert.deepEqual(cps.map((c) => [c.label, c.sizeBytes]), [['big-2', 409600], ['big-1', 409600], ['big-0', 409600]]);
});

test('gateway - invalid events are refused whole with a code per field, and nothing is published', async () => {
  const before = (await stack.jsm.streams.info(stack.names.ingressStream)).state.messages;
  const r = await stack.post<{ error: { code: string; details: { index: number; field: string; code: string }[] } }>('/v1/events', {
    events: [
      { agentId: 'http-2', type: 'decision_made', data: { symbol: 'ETH', action: 'buy', confidence: 0.5 } },
      { agentId: 'http-2', type: 'decision_made', data: { symbol: 'ETH', action: 'buy', confidence: 5 } },
      { agentId: 'http-2', type: 'trade_executed', data: { orderId: 'o', symbol: 'ETH', side: 'sideways', qty: 1, price: 1 } },
    ],
  });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'INVALID_EVENT');
  assert.deepEqual(r.body.error.details.map((d) => [d.index, d.field, d.code]), [[1, 'data.confidence', 'OUT_OF_RANGE'], [2, 'data.side', 'INVALID_FIELD']]);
  assert.equal((await stack.jsm.streams.info(stack.names.ingressStream)).state.messages, before);
  const shape = await stack.post<{ error: { code: string } }>('/v1/events', { events: [{ agentId: 'bad agent', type: 'nope', data: {} }] });
  assert.equal(shape.status, 400);
  assert.equal(shape.body.error.code, 'VALIDATION_FAILED');
});

test('gateway - history is paged newest first and filtered by symbol and time', async () => {
  const t0 = Date.now() - 10_000;
  for (let i = 0; i < 25; i++) {
    await agent.recordDecision({ symbol: i % 2 ? 'BTC' : 'ETH', action: 'hold', confidence: 0.5, rationale: `#${i}` }, { occurredAt: t0 + i * 100 });
  }
  await stack.caughtUp();
  const page1 = await stack.get<{ items: { rationale: string }[]; nextCursor: string }>('/v1/agents/api-1/decisions?limit=10');
  assert.deepEqual(page1.body.items.map((d) => d.rationale), Array.from({ length: 10 }, (_, i) => `#${24 - i}`));
  const page2 = await stack.get<{ items: { rationale: string }[]; nextCursor: string | null }>(`/v1/agents/api-1/decisions?limit=10&cursor=${page1.body.nextCursor}`);
  assert.equal(page2.body.items[0]!.rationale, '#14');
  const all = await stack.all<{ rationale: string }>('/v1/agents/api-1/decisions');
  assert.equal(all.length, 25);
  const btc = await stack.all<{ symbol: string }>('/v1/agents/api-1/decisions?symbol=BTC');
  assert.equal(btc.length, 12);
  assert.ok(btc.every((d) => d.symbol === 'BTC'));
  const window = await stack.all<{ rationale: string }>(`/v1/agents/api-1/decisions?from=${t0 + 500}&to=${new Date(t0 + 1000).toISOString()}`);
  assert.deepEqual(window.map((d) => d.rationale), ['#9', '#8', '#7', '#6', '#5']);
  const bad = await stack.get<{ error: { code: string } }>('/v1/agents/api-1/decisions?cursor=garbage');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'INVALID_CURSOR');
});

test('gateway - agent state falls back to Postgres when Redis has none', async () => {
  await agent.recordTrade({ orderId: 'x1', symbol: 'SOL', side: 'buy', qty: 2, price: 10 });
  await agent.remember({ kind: 'fact', text: 'SOL halts on weekends', tags: ['sol'] });
  await stack.caughtUp();
  const hot = await stack.get<{ source: string; openPositions: { symbol: string; qty: number }[]; recentMemories: { text: string }[] }>('/v1/agents/api-1');
  assert.equal(hot.body.source, 'hot');
  const keys = await stack.redis.keys(`${stack.names.redisPrefix}agent:api-1*`);
  await stack.redis.del(...keys);
  const warm = await stack.get<typeof hot.body>('/v1/agents/api-1');
  assert.equal(warm.body.source, 'warm');
  assert.deepEqual(warm.body.openPositions.map((p) => [p.symbol, p.qty]), [['SOL', 2]]);
  assert.deepEqual(hot.body.openPositions.map((p) => [p.symbol, p.qty]), [['SOL', 2]]);
  assert.deepEqual(warm.body.recentMemories.map((m) => m.text), hot.body.recentMemories.map((m) => m.text));
  assert.equal((await stack.all(`/v1/agents/api-1/memories?tag=sol`)).length, 1);
  assert.equal((await stack.all(`/v1/agents/api-1/memories?tag=${encodeURIComponent("x' OR '1'='1")}`)).length, 0);
  const missing = await stack.get<{ error: { code: string } }>('/v1/agents/nobody');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'UNKNOWN_AGENT');
});

test('gateway - health, readiness and OpenAPI are served', async () => {
  assert.equal((await stack.get('/healthz')).status, 200);
  const ready = await stack.get<{ checks: Record<string, boolean> }>('/readyz');
  assert.deepEqual(ready.body.checks, { nats: true, postgres: true, redis: true, memoryIndex: true });
  const spec = await stack.get<{ paths: Record<string, unknown> }>('/docs/json');
  assert.ok(spec.body.paths['/v1/events'] && spec.body.paths['/v1/agents/{agentId}/decisions']);
  const ui = await fetch(`${stack.gatewayUrl}/docs`);
  assert.equal(ui.status, 200);
});
