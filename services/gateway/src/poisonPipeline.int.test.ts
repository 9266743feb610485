import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBatch, newEventId, partitionOf } from '@farmbrain/contracts';
import { HotView, readAgentViews, type ViewLimits } from '@farmbrain/store';
import { makeEvent, publishEvents, publishRaw, TestStack, waitFor } from '@farmbrain/testing';

/**
 * The real pipeline (ingest, tiering, gateway as processes): a poison event on
 * the canonical log does not hold up the agents behind it on its partition,
 * and a write sent twice over HTTP is applied once.
 */

const stack = new TestStack();
const SHOW: ViewLimits = { decisions: 10, memories: 10 };

before(async () => {
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering');
  await stack.start('gateway');
});
after(() => stack.destroy());

/** `n` agent ids that land on partition `p`. */
function agentsOn(p: number, n: number, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (partitionOf(`${prefix}-${i}`, stack.names.partitions) === p) out.push(`${prefix}-${i}`);
  return out;
}

test('poison pipeline - poison events (one published around ingest, one a store refuses) are dead-lettered and the agents behind them on their partition are served within seconds', async () => {
  const [poisoner, refused, ...others] = agentsOn(1, 5, 'pp');
  // 1. Published around ingest: a NUL in the rationale, which Postgres text cannot hold. The projection
  //    checks what it reads by the contract's rules and refuses it before any store sees it.
  const poison = makeEvent(poisoner!, 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence: 0.5, rationale: 'looks fine \u0000 until stored' }, { producerSeq: 1 });
  await publishRaw(stack.js, stack.names.eventsSubject(poisoner!), encodeBatch([poison]), `poison-${poison.eventId}`);
  // 2. Valid by the contract, through ingest, but refused by the store: a constraint the code knows nothing of
  //    (as a migration ahead of the code could add). The fault window is that one event's insert.
  await stack.pool.query(`ALTER TABLE decisions ADD CONSTRAINT test_no_poison CHECK (rationale <> 'poison')`);
  const storePoison = makeEvent(refused!, 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence: 0.5, rationale: 'poison' }, { producerSeq: 1 });
  await publishEvents(stack.js, stack.names, [storePoison]);

  const decisions = new Map<string, string[]>();
  for (const [i, a] of others.entries()) {
    const evs = [
      makeEvent(a, 'agent_registered', { name: `Agent ${i}` }, { producerSeq: 1 }),
      ...[2, 3, 4].map((seq) => makeEvent(a, 'decision_made', { symbol: 'ETH', action: 'sell', size: 1, confidence: 0.6, rationale: `after the poison ${seq}` }, { producerSeq: seq })),
    ];
    decisions.set(a, evs.slice(1).map((e) => e.eventId));
    await publishEvents(stack.js, stack.names, evs);
  }

  const started = Date.now();
  for (const [a, ids] of decisions) {
    await waitFor(`${a}'s decisions to be served`, async () => {
      const r = await stack.get<{ items: { decisionId: string }[] }>(`/v1/agents/${a}/decisions`);
      return r.status === 200 && ids.every((id) => r.body.items.some((d) => d.decisionId === id));
    }, 10_000);
  }
  assert.ok(Date.now() - started < 10_000, 'served within seconds');

  const dead = await stack.pool.query<{ code: string; sqlstate: string | null; agent_id: string; reason: string }>(
    'SELECT code, sqlstate, agent_id, reason FROM projection_dead_letters WHERE event_id = ANY($1::uuid[]) ORDER BY agent_id', [[poison.eventId, storePoison.eventId]]);
  assert.deepEqual(dead.rows.map((r) => [r.agent_id, r.code, r.sqlstate]).sort(), [[poisoner, 'INVALID_EVENT', null], [refused, 'APPLY_FAILED', '23514']].sort(),
    `each poison is dead-lettered where the test put its fault: ${dead.rows.map((r) => r.reason).join(' | ')}`);
  const listed = await stack.get<{ items: { eventId: string; code: string; sqlstate: string | null }[] }>(`/v1/dead-letters?source=projection&agentId=${refused}`);
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.items.map((l) => [l.eventId, l.code, l.sqlstate]), [[storePoison.eventId, 'APPLY_FAILED', '23514']]);
  await stack.pool.query('ALTER TABLE decisions DROP CONSTRAINT test_no_poison');
});

interface AgentState {
  source: 'hot' | 'warm';
  openPositions: { symbol: string; qty: number; tradeCount: number }[];
}

test('poison pipeline - the same trade_executed in two HTTP requests (alone, then with another event: different message ids) is applied once, warm and hot', async () => {
  const a = 'twice-trade';
  const trade = { agentId: a, type: 'trade_executed', eventId: newEventId(), producerSeq: 10, data: { orderId: 'o-1', symbol: 'BTC', side: 'buy', qty: 0.75, price: 64_000 } };
  const first = await stack.post<{ accepted: { eventId: string; duplicate: boolean }[] }>('/v1/events', {
    events: [{ agentId: a, type: 'agent_registered', eventId: newEventId(), producerSeq: 1, data: { name: 'Twice' } }, trade],
  });
  assert.equal(first.status, 202);
  await waitFor('the trade to be served', async () => (await stack.get<{ items: unknown[] }>(`/v1/agents/${a}/trades`)).body.items?.length === 1, 10_000);
  // A moment later the client retries it alone: the message id is now the event id, so JetStream does not catch it.
  const again = await stack.post<{ accepted: { eventId: string; duplicate: boolean }[] }>('/v1/events', { events: [trade] });
  assert.equal(again.status, 202);
  assert.equal(again.body.accepted[0]!.duplicate, false, 'a new message on the ingress stream: deduplication is up to the projection');
  // And once more inside another request, after a decision.
  const third = await stack.post('/v1/events', {
    events: [{ agentId: a, type: 'decision_made', eventId: newEventId(), producerSeq: 11, data: { symbol: 'BTC', action: 'hold', confidence: 0.1 } }, trade],
  });
  assert.equal(third.status, 202);
  await stack.caughtUp();

  const trades = await stack.all<{ tradeId: string; qty: number }>(`/v1/agents/${a}/trades`);
  assert.deepEqual(trades.map((t) => [t.tradeId, t.qty]), [[trade.eventId, 0.75]], '/trades lists it once');
  const state = await stack.get<AgentState>(`/v1/agents/${a}`);
  assert.equal(state.status, 200);
  assert.equal(state.body.source, 'hot');
  assert.deepEqual(state.body.openPositions.map((p) => [p.symbol, p.qty, p.tradeCount]), [['BTC', 0.75, 1]], 'the open position holds one trade (hot)');
  const warm = (await readAgentViews(stack.pool, [a], SHOW)).get(a)!;
  assert.deepEqual(warm.positions.map((p) => [p.symbol, p.qty, p.tradeCount]), [['BTC', 0.75, 1]], 'the open position holds one trade (warm)');
  const hot = await new HotView(stack.redis, stack.names.redisPrefix, SHOW).read(a, SHOW);
  assert.deepEqual(hot, warm, 'the hot copy is the view Postgres gives');
});

test('poison pipeline - the same memory_updated in two HTTP requests bumps the version once', async () => {
  const a = 'twice-update';
  const memoryId = `m-${newEventId()}`;
  const stored = await stack.post('/v1/events', {
    events: [{ agentId: a, type: 'memory_stored', producerSeq: 1, data: { memoryId, kind: 'lesson', text: 'fade thin breakouts' } }],
  });
  assert.equal(stored.status, 202);
  const update = { agentId: a, type: 'memory_updated', eventId: newEventId(), producerSeq: 2, data: { memoryId, text: 'fade thin weekend breakouts' } };
  assert.equal((await stack.post('/v1/events', { events: [update] })).status, 202);
  await waitFor('the update to be applied', async () => {
    const r = await stack.get<{ items: { memoryId: string; version: number }[] }>(`/v1/agents/${a}/memories`);
    return r.body.items?.find((m) => m.memoryId === memoryId)?.version === 2;
  }, 10_000);
  const other = { agentId: a, type: 'decision_made', eventId: newEventId(), producerSeq: 3, data: { symbol: 'BTC', action: 'hold', confidence: 0.2 } };
  assert.equal((await stack.post('/v1/events', { events: [other, update] })).status, 202);
  await stack.caughtUp();

  const memories = await stack.all<{ memoryId: string; version: number; text: string }>(`/v1/agents/${a}/memories`);
  assert.deepEqual(memories.filter((m) => m.memoryId === memoryId).map((m) => [m.version, m.text]), [[2, 'fade thin weekend breakouts']]);
  const versions = await stack.pool.query<{ version: number; op: string }>('SELECT version, op FROM memory_versions WHERE memory_id = $1 ORDER BY version', [memoryId]);
  assert.deepEqual(versions.rows.map((v) => [v.version, v.op]), [[1, 'stored'], [2, 'updated']]);
});

test('poison pipeline - an ingress event whose id holds a line break (a header value NATS refuses) is dead-lettered, and its partition goes on', async () => {
  const [agent] = agentsOn(2, 1, 'hdr');
  const bad = { ...makeEvent(agent!, 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence: 0.5 }, { producerSeq: 1 }), eventId: 'bad\r\nid' } as typeof good;
  const good = makeEvent(agent!, 'decision_made', { symbol: 'ETH', action: 'sell', size: 1, confidence: 0.5, rationale: 'after the bad id' }, { producerSeq: 2 });
  await publishEvents(stack.js, stack.names, [bad], 'hdr-bad');
  await publishEvents(stack.js, stack.names, [good]);
  await waitFor('the event after it to be served', async () => {
    const r = await stack.get<{ items: { decisionId: string }[] }>(`/v1/agents/${agent}/decisions`);
    return r.status === 200 && r.body.items.some((d) => d.decisionId === good.eventId);
  }, 10_000);
  const listed = await waitFor('the dead letter', async () => {
    const r = await stack.get<{ items: { eventId: string | null; code: string }[] }>(`/v1/dead-letters?source=ingest&agentId=${agent}`);
    return r.body.items.length > 0 ? r.body.items : undefined;
  }, 10_000);
  assert.deepEqual(listed.map((l) => [l.code, l.eventId]), [['INVALID_TEXT', 'bad id']], 'dead-lettered with its id made printable');
});
