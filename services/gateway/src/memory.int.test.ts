import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { HEADERS, type FarmEvent } from '@farmbrain/contracts';
import { FarmbrainAgent } from '@farmbrain/sdk';
import { makeEvent, publishEvents, TestStack, waitFor } from '@farmbrain/testing';
import type { DecisionContext, RecallResponse, SimilarDecisionsResponse, WriteResult } from './memory/types.js';

/**
 * The memory API end to end on real NATS, Postgres and Redis: writes go
 * through the log, reads come from the projections and the vector index.
 * Team alpha = a1, a2 (a1 may write to it); team beta = b1 (may write to the fleet).
 */
const policy = { writers: { 'team:alpha': ['a1'], fleet: ['b1'] } };
const stack = new TestStack({ env: { FB_SCOPE_POLICY: JSON.stringify(policy) } });

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const r = await fetch(`${stack.gatewayUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: r.status, body: (await r.json()) as T };
}
const remember = async (agent: string, body: Record<string, unknown>) => {
  const r = await call<WriteResult>('POST', `/v1/agents/${agent}/memories`, body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
};
const recall = async (agent: string, body: Record<string, unknown>) => {
  const r = await call<RecallResponse>('POST', `/v1/agents/${agent}/recall`, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};
const ids = (r: RecallResponse) => r.hits.map((h) => h.memory.memoryId);

before(async () => {
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  await stack.start('gateway');
  const at = Date.now();
  await publishEvents(stack.js, stack.names, [makeEvent('a1', 'agent_registered', { name: 'A1', team: 'alpha' }, { producerSeq: 1, occurredAt: at })]);
  await publishEvents(stack.js, stack.names, [makeEvent('a2', 'agent_registered', { name: 'A2', team: 'alpha' }, { producerSeq: 1, occurredAt: at })]);
  await publishEvents(stack.js, stack.names, [makeEvent('b1', 'agent_registered', { name: 'B1', team: 'beta' }, { producerSeq: 1, occurredAt: at })]);
  await stack.caughtUp();
});
after(() => stack.destroy());

test('memory - a read carrying the token of a write never misses it (read-your-writes)', async () => {
  // Each write is read back at once, by text, by vector and by tag, with its token only.
  for (let i = 0; i < 40; i++) {
    const word = `ryw${i}x${Date.now().toString(36)}`;
    const w = await remember('a1', { kind: 'observation', text: `${word} funding flipped negative on SOL perps`, tags: [word] });
    const byText = await recall('a1', { query: word, consistency: w.consistencyToken, k: 5 });
    assert.equal(byText.hits[0]?.memory.memoryId, w.memoryId, `write ${i} missed by text`);
    const byTag = await recall('a1', { tags: [word], consistency: w.consistencyToken });
    assert.deepEqual(ids(byTag), [w.memoryId], `write ${i} missed by tag`);
  }
  // Updates and forgets too: the next read sees the new version, then no memory.
  const w = await remember('a1', { kind: 'lesson', text: 'ryw-update original wording about ETH gamma squeeze' });
  const u = await call<WriteResult>('PATCH', `/v1/agents/a1/memories/${w.memoryId}`, { text: 'ryw-update revised wording about ETH gamma squeeze', consistency: w.consistencyToken });
  assert.equal(u.status, 200, JSON.stringify(u.body));
  const seen = await recall('a1', { query: 'ryw-update gamma squeeze', consistency: u.body.consistencyToken });
  const hit = seen.hits.find((h) => h.memory.memoryId === w.memoryId);
  assert.equal(hit?.memory.version, 2);
  assert.match(hit!.memory.text, /revised/);
  const f = await call<WriteResult>('DELETE', `/v1/agents/a1/memories/${w.memoryId}?reason=stale`);
  assert.equal(f.status, 200);
  const gone = await recall('a1', { query: 'ryw-update gamma squeeze', consistency: f.body.consistencyToken });
  assert.ok(!ids(gone).includes(w.memoryId));
  // The SDK's writes carry tokens as well, and its reads pass them by default.
  const agent = new FarmbrainAgent({ agentId: 'a1', servers: stack.natsUrl, namespace: stack.namespace, partitions: stack.names.partitions, gateway: stack.gatewayUrl });
  try {
    for (let i = 0; i < 10; i++) {
      const word = `sdkryw${i}x${Date.now().toString(36)}`;
      const m = await agent.remember({ kind: 'fact', text: `${word} exchange maintenance window on Sunday`, tags: [word] });
      const r = await agent.recall({ tags: [word] });
      assert.deepEqual(r.hits.map((h) => h.memory.memoryId), [m.memoryId], `SDK write ${i} missed`);
    }
  } finally {
    await agent.close();
  }
});

test('memory - an agent sees its own and its shared scopes, never another agent\'s private memory', async () => {
  const tag = `scope${Date.now().toString(36)}`;
  const priv = await remember('a1', { kind: 'lesson', text: 'private: never short BTC into a funding reset', tags: [tag] });
  const team = await remember('a1', { kind: 'lesson', text: 'team alpha: cut ETH longs when funding exceeds 0.05%', tags: [tag], scope: 'team', scopeId: 'alpha' });
  const fleet = await remember('b1', { kind: 'fact', text: 'fleet: exchange halts withdrawals on Sundays', tags: [tag], scope: 'fleet' });
  const token = [priv, team, fleet].map((w) => w.consistencyToken);
  const sees = async (agent: string) => {
    const out = new Set<string>();
    // By text, by vector-ish query, and by filters alone, across every scope it may ask for.
    for (const body of [{ query: 'funding BTC ETH exchange' }, { tags: [tag] }, { query: 'short BTC funding reset', scopes: ['agent', 'team', 'fleet'], k: 100 }]) {
      for (const t of token) for (const id of ids(await recall(agent, { ...body, consistency: t }))) out.add(id);
    }
    return out;
  };
  const a1 = await sees('a1');
  const a2 = await sees('a2');
  const b1 = await sees('b1');
  assert.ok(a1.has(priv.memoryId) && a1.has(team.memoryId) && a1.has(fleet.memoryId));
  assert.ok(!a2.has(priv.memoryId), 'a2 saw a1\'s private memory');
  assert.ok(a2.has(team.memoryId) && a2.has(fleet.memoryId));
  assert.ok(!b1.has(priv.memoryId) && !b1.has(team.memoryId), 'b1 saw memories of a team it is not in');
  assert.ok(b1.has(fleet.memoryId));
  // Scope filter: only the team's memories.
  const onlyTeam = await recall('a2', { tags: [tag], scopes: ['team'] });
  assert.deepEqual(ids(onlyTeam), [team.memoryId]);
  // Another agent can neither change nor even find a private memory.
  const steal = await call<{ error: { code: string } }>('PATCH', `/v1/agents/a2/memories/${priv.memoryId}`, { text: 'mine now' });
  assert.equal(steal.status, 404);
  const notOwner = await call<{ error: { code: string } }>('DELETE', `/v1/agents/a2/memories/${team.memoryId}`);
  assert.equal(notOwner.body.error.code, 'NOT_OWNER');

  // The same through MCP: identity comes from the header, never from a tool argument.
  const mcp = async (agentId: string) => {
    const c = new Client({ name: `int-${agentId}`, version: '0.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL('/mcp', stack.gatewayUrl), { requestInit: { headers: { 'Fb-Agent-Id': agentId } } }));
    return c;
  };
  const tool = async (c: Client, name: string, args: Record<string, unknown>) => (await c.callTool({ name, arguments: args })) as CallToolResult;
  const text = (r: CallToolResult) => r.content.map((x) => (x.type === 'text' ? x.text : '')).join('\n');
  const c1 = await mcp('a1');
  const c2 = await mcp('a2');
  try {
    const marker = `mcpprivate${Date.now().toString(36)}`;
    const w = await tool(c1, 'remember', { kind: 'lesson', text: `${marker}: never average down on SOL after a 10% gap`, tags: [marker], importance: 0.9 });
    assert.ok(!w.isError, text(w));
    const { memoryId, consistencyToken } = w.structuredContent as unknown as WriteResult;
    const own = await tool(c1, 'recall', { query: marker, consistency: consistencyToken });
    assert.ok((own.structuredContent as unknown as RecallResponse).hits.some((h) => h.memory.memoryId === memoryId));
    for (const args of [{ query: marker, consistency: consistencyToken }, { tags: [marker], consistency: consistencyToken }, { query: marker, scopes: ['agent', 'team', 'fleet'], k: 100 }]) {
      const r = await tool(c2, 'recall', args);
      assert.ok(!r.isError, text(r));
      assert.ok(!(r.structuredContent as unknown as RecallResponse).hits.some((h) => h.memory.memoryId === memoryId), `a2 saw a1's memory via MCP with ${JSON.stringify(args)}`);
      assert.doesNotMatch(text(r), new RegExp(marker));
    }
    const imp = await tool(c2, 'recall', { query: marker, agentId: 'a1' });
    assert.equal(imp.isError, true);
  } finally {
    await c1.close();
    await c2.close();
  }
});

test('memory - a shared write by an agent that is not a writer is rejected: 403 over HTTP, dead-lettered over NATS', async () => {
  const r = await call<{ error: { code: string; message: string } }>('POST', '/v1/agents/a2/memories', { kind: 'fact', text: 'a2 tries to write to team alpha', scope: 'team', scopeId: 'alpha' });
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, 'SCOPE_FORBIDDEN');
  assert.match(r.body.error.message, /FB_SCOPE_POLICY/);

  const agent = new FarmbrainAgent({ agentId: 'a2', servers: stack.natsUrl, namespace: stack.namespace, partitions: stack.names.partitions });
  const m = await agent.remember({ kind: 'fact', text: 'a2 sneaks into the fleet scope', scope: 'fleet' });
  await agent.close();
  const dlq = await waitFor('dead-lettered write', async () => {
    const info = await stack.jsm.streams.info(stack.names.deadLetterStream);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const msg = await stack.jsm.streams.getMessage(stack.names.deadLetterStream, { seq }).catch(() => undefined);
      if (msg?.header.get(HEADERS.eventId) === m.eventId) return msg;
    }
    return undefined;
  });
  assert.equal(dlq.header.get(HEADERS.reasonCode), 'SCOPE_FORBIDDEN');
  assert.match(dlq.header.get(HEADERS.reason), /not a writer of scope 'fleet'/);
  await stack.caughtUp();
  const stored = await stack.pool.query('SELECT 1 FROM memories WHERE memory_id = $1', [m.memoryId]);
  assert.equal(stored.rowCount, 0);
});

test('memory - decision context returns what was recalled and the cited memory as it was then, after an update', async () => {
  const w = await remember('a1', { kind: 'lesson', text: 'provenance: take profit on BTC at +3R in chop', tags: ['provenance'] });
  const r = await recall('a1', { query: 'provenance take profit BTC chop', consistency: w.consistencyToken, correlationId: 'trade-42' });
  assert.equal(r.hits[0]?.memory.memoryId, w.memoryId);
  const decision = makeEvent('a1', 'decision_made', { symbol: 'BTC', action: 'sell', confidence: 0.7, memoryIds: [w.memoryId], recallIds: [r.recallId] }, { producerSeq: Date.now() * 1000, correlationId: 'trade-42' });
  await publishEvents(stack.js, stack.names, [decision]);
  await stack.caughtUp();
  // Later the lesson is rewritten; the decision must still show the old wording.
  const u = await call<WriteResult>('PATCH', `/v1/agents/a1/memories/${w.memoryId}`, { text: 'provenance: take profit on BTC at +5R, trail the rest' });
  const ctx = await call<DecisionContext>('GET', `/v1/agents/a1/decisions/${decision.eventId}/context?consistency=${u.body.consistencyToken}`);
  assert.equal(ctx.status, 200, JSON.stringify(ctx.body));
  assert.equal(ctx.body.recalls.length, 1);
  assert.equal(ctx.body.recalls[0]!.recallId, r.recallId);
  const recalled = ctx.body.recalls[0]!.hits.find((h) => h.memoryId === w.memoryId)!;
  assert.equal(recalled.version, 1);
  assert.match(String(recalled.memory?.text), /\+3R in chop/);
  const cited = ctx.body.citedMemories.find((m) => m.memoryId === w.memoryId)!;
  assert.equal(cited.version, 1);
  assert.match(String(cited.memory.text), /\+3R in chop/);
  assert.equal(cited.currentVersion, 2);
  assert.equal(cited.changedSince, true);
  // A decision citing another agent's private memory id learns nothing about it.
  const nosy = makeEvent('a2', 'decision_made', { symbol: 'BTC', action: 'buy', confidence: 0.5, memoryIds: [w.memoryId] }, { producerSeq: Date.now() * 1000 });
  await publishEvents(stack.js, stack.names, [nosy]);
  await stack.caughtUp();
  const leak = await call<DecisionContext>('GET', `/v1/agents/a2/decisions/${nosy.eventId}/context`);
  assert.equal(leak.status, 200);
  assert.doesNotMatch(JSON.stringify(leak.body), /take profit/);
  // Another agent cannot read this agent's decision context.
  const other = await call('GET', `/v1/agents/a2/decisions/${decision.eventId}/context`);
  assert.equal(other.status, 404);
  // The recall counted as an access of the memory (for tier policies).
  const acc = await stack.pool.query<{ access_count: number }>('SELECT access_count FROM memories WHERE memory_id = $1', [w.memoryId]);
  assert.ok(acc.rows[0]!.access_count >= 1);
});

test('memory - outcome-linked recall returns the nearest past decisions with their P&L on a constructed dataset', async () => {
  // o1's decisions at known distances from the query [0,0]; each opened and closed a position with a known P&L.
  const agent = 'o1';
  let seq = Date.now() * 1000;
  const at = Date.now() - 3_600_000;
  const evs: FarmEvent[] = [];
  const plan: { situation: number[]; pnl: number | null; symbol: string }[] = [
    { situation: [1, 0], pnl: 50, symbol: 'BTC' }, // d = 1
    { situation: [0, 2], pnl: -20, symbol: 'BTC' }, // d = 2
    { situation: [3, 0], pnl: 10, symbol: 'BTC' }, // d = 3
    { situation: [0, 0.2], pnl: 99, symbol: 'ETH' }, // d = 0.2, other symbol
    { situation: [10, 10], pnl: 5, symbol: 'BTC' }, // far
    { situation: [0.5, 0], pnl: null, symbol: 'BTC' }, // d = 0.5, still open (last: one open position per symbol)
  ];
  const decisionIds: string[] = [];
  plan.forEach((p, i) => {
    const d = makeEvent(agent, 'decision_made', { symbol: p.symbol, action: 'buy', size: 1, confidence: 0.5, situation: p.situation }, { producerSeq: ++seq, occurredAt: at + i * 60_000 });
    decisionIds.push(d.eventId);
    evs.push(d);
    evs.push(makeEvent(agent, 'trade_executed', { orderId: `o${i}`, symbol: p.symbol, side: 'buy', qty: 1, price: 100, decisionId: d.eventId }, { producerSeq: ++seq, occurredAt: at + i * 60_000 + 1000 }));
    if (p.pnl !== null) evs.push(makeEvent(agent, 'position_closed', { symbol: p.symbol, realizedPnl: p.pnl, decisionIds: [d.eventId], exitPrice: 100 + p.pnl }, { producerSeq: ++seq, occurredAt: at + i * 60_000 + 30_000 }));
  });
  await publishEvents(stack.js, stack.names, evs);
  await stack.caughtUp();
  const r = await call<SimilarDecisionsResponse>('POST', `/v1/agents/${agent}/recall/decisions`, { situation: [0, 0], symbol: 'BTC', k: 3 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.neighbours.map((n) => n.decisionId), [decisionIds[0], decisionIds[1], decisionIds[2]]);
  assert.deepEqual(r.body.neighbours.map((n) => n.distance), [1, 2, 3]);
  assert.deepEqual(r.body.neighbours.map((n) => n.outcome.realizedPnl), [50, -20, 10]);
  assert.deepEqual(r.body.neighbours.map((n) => n.outcome.win), [true, false, true]);
  assert.equal(r.body.neighbours[0]!.outcome.holdingMs, 29_000);
  assert.equal(r.body.stats.n, 3);
  assert.equal(r.body.stats.winRate, 2 / 3);
  assert.ok(Math.abs(r.body.stats.meanPnl! - 40 / 3) < 1e-9);
  // Open positions join only when asked; another agent never sees o1's decisions.
  const withOpen = await call<SimilarDecisionsResponse>('POST', `/v1/agents/${agent}/recall/decisions`, { situation: [0, 0], symbol: 'BTC', k: 2, includeOpen: true });
  assert.deepEqual(withOpen.body.neighbours.map((n) => n.decisionId), [decisionIds[5], decisionIds[0]]);
  assert.equal(withOpen.body.neighbours[0]!.outcome.status, 'open');
  const stranger = await call<SimilarDecisionsResponse>('POST', '/v1/agents/a1/recall/decisions', { situation: [0, 0], k: 10 });
  assert.ok(!stranger.body.neighbours.some((n) => decisionIds.includes(n.decisionId)));
});
