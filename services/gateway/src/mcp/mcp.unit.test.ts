// MCP wiring only: a fastify app with the mcpRoutes plugin and an in-test MemoryApi,
// driven by the official SDK client over real HTTP. The end-to-end test with
// NATS/Postgres lives with the integration tests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FarmbrainError } from '@farmbrain/contracts';
import { createLogger } from '@farmbrain/platform';
import type { DecisionContext, MemoryApi, RecallResponse, SimilarDecisionsResponse, WriteResult } from '../memory/types.js';
import { mcpRoutes } from '../routes/mcp.js';

interface Call { method: keyof MemoryApi; agentId: string; args: unknown[] }

function fakeApi() {
  const calls: Call[] = [];
  const rec = (method: keyof MemoryApi, agentId: string, ...args: unknown[]) => calls.push({ method, agentId, args });
  const write: WriteResult = { memoryId: 'm1', eventId: 'e1', consistencyToken: 'tok1' };
  const api: MemoryApi = {
    async remember(agentId, input) {
      rec('remember', agentId, input);
      if (input.text === 'denied') throw new FarmbrainError('SCOPE_DENIED', "scope 'fleet' has no writers configured");
      return write;
    },
    async update(agentId, memoryId, patch) { rec('update', agentId, memoryId, patch); return write; },
    async forget(agentId, memoryId, reason) { rec('forget', agentId, memoryId, reason); return write; },
    async consolidate(agentId) { rec('consolidate', agentId); throw new Error('not an MCP tool'); },
    async erase(agentId) { rec('erase', agentId); throw new Error('not an MCP tool'); },
    async erasures() { throw new Error('not an MCP tool'); },
    async recall(agentId, req): Promise<RecallResponse> {
      rec('recall', agentId, req);
      return {
        recallId: 'r1', embeddingModel: 'test-embed', tookMs: 3,
        hits: [{
          score: 0.0325, tier: 'hot',
          parts: { vector: { similarity: 0.9, rank: 1 }, text: null, recency: { ageMs: 10, rank: 1 }, importance: { value: 0.9, rank: 1 } },
          memory: { memoryId: 'm9', agentId, kind: 'lesson', text: 'Do not chase BTC breakouts at the US open', tags: ['BTC-USD'], importance: 0.9, scope: 'agent', scopeId: '', version: 1, createdAt: 1, updatedAt: 1, expiresAt: null, embeddingModel: 'test-embed' },
        }],
      };
    },
    async similarDecisions(agentId, req): Promise<SimilarDecisionsResponse> {
      rec('similarDecisions', agentId, req);
      return {
        neighbours: [{ decisionId: 'd1', agentId, symbol: 'ETH-USD', action: 'buy', size: 1, confidence: 0.7, rationale: 'funding flipped', occurredAt: 1, situation: [1, 2], distance: 0.5, outcome: { status: 'closed', realizedPnl: 12.5, win: true, holdingMs: 1000, positionIds: ['p1'] } }],
        stats: { n: 1, wins: 1, losses: 0, winRate: 1, meanPnl: 12.5, stdevPnl: null, medianPnl: 12.5, minPnl: 12.5, maxPnl: 12.5, meanHoldingMs: 1000 },
      };
    },
    async decisionContext(agentId, decisionId): Promise<DecisionContext> {
      rec('decisionContext', agentId, decisionId);
      if (decisionId === 'missing') throw new FarmbrainError('NOT_FOUND', `decision '${decisionId}' was not found`);
      if (decisionId === 'boom') throw new Error('password=hunter2 connection refused');
      return { decision: { decisionId, agentId, symbol: 'ETH-USD', action: 'buy', occurredAt: 1, rationale: 'r', memoryIds: [], recallIds: ['r1'], correlationId: '' }, recalls: [], citedMemories: [] };
    },
  };
  return { api, calls };
}

const fake = fakeApi();
// Built like app.ts builds the gateway (pino logger, TypeBox provider, swagger), so the types are checked against the real shape.
const app = Fastify({ loggerInstance: createLogger('mcp-test', 'silent') }).withTypeProvider<TypeBoxTypeProvider>();
let url: URL;
const clients: Client[] = [];

before(async () => {
  await app.register(swagger, { openapi: { info: { title: 't', version: '0' } } });
  await app.register(mcpRoutes, { memory: fake.api, log: app.log });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = new URL(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/mcp`);
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await app.close();
});

async function connect(headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'mcp-unit-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
  clients.push(client);
  return client;
}
const callsSince = (n: number) => fake.calls.slice(n);
const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
const call = async (c: Client, name: string, args: Record<string, unknown>) => (await c.callTool({ name, arguments: args })) as CallToolResult;

test('mcp - lists the four memory tools with input schemas, none taking an agent id', async () => {
  const c = await connect({ 'Fb-Agent-Id': 'a1' });
  const { tools } = await c.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ['decision_context', 'recall', 'recall_similar_decisions', 'remember']);
  const by = Object.fromEntries(tools.map((t) => [t.name, t]));
  for (const t of tools) {
    assert.equal(t.inputSchema.type, 'object');
    assert.ok(t.description && t.description.length > 40, `${t.name} has a description`);
    const props = t.inputSchema.properties as Record<string, { description?: string }>;
    assert.ok(!('agentId' in props), `${t.name} must not take agentId`);
    for (const [k, p] of Object.entries(props)) assert.ok(p.description, `${t.name}.${k} is described`);
  }
  assert.deepEqual([...(by.remember!.inputSchema.required ?? [])].sort(), ['kind', 'text']);
  assert.deepEqual(by.recall_similar_decisions!.inputSchema.required, ['situation']);
  assert.deepEqual(by.decision_context!.inputSchema.required, ['decisionId']);
  assert.ok(by.remember!.outputSchema, 'remember declares its output');
});

test('mcp - every tool reaches the api as the agent named by Fb-Agent-Id', async () => {
  const c = await connect({ 'Fb-Agent-Id': 'a1' });
  const n = fake.calls.length;

  const rem = await call(c, 'remember', { kind: 'lesson', text: 'Do not chase BTC breakouts at the US open', tags: ['BTC-USD'], importance: 0.9 });
  assert.equal(rem.isError, undefined);
  assert.deepEqual(rem.structuredContent, { memoryId: 'm1', eventId: 'e1', consistencyToken: 'tok1' });
  assert.deepEqual(JSON.parse(textOf(rem)), rem.structuredContent);

  const rc = await call(c, 'recall', { query: 'breakouts', k: 5, kinds: ['lesson'], consistency: 'tok1', since: '2025-01-01T00:00:00Z' });
  assert.equal(rc.isError, undefined);
  assert.equal((rc.structuredContent as { recallId: string }).recallId, 'r1');
  const [list, jsonText] = rc.content.map((x) => (x.type === 'text' ? x.text : ''));
  assert.match(list!, /recallId r1/);
  assert.match(list!, /1\. score 0\.0325 \| lesson \| agent \| BTC-USD \| Do not chase BTC breakouts/);
  assert.equal(JSON.parse(jsonText!).hits[0].memory.memoryId, 'm9');

  const sd = await call(c, 'recall_similar_decisions', { situation: [1, 2], symbol: 'ETH-USD', includeTeam: true });
  assert.equal(sd.isError, undefined);
  assert.match(textOf(sd), /win rate 1\.00/);

  const dc = await call(c, 'decision_context', { decisionId: 'd1' });
  assert.equal(dc.isError, undefined);
  assert.equal((dc.structuredContent as unknown as DecisionContext).decision.decisionId, 'd1');

  assert.deepEqual(callsSince(n), [
    { method: 'remember', agentId: 'a1', args: [{ kind: 'lesson', text: 'Do not chase BTC breakouts at the US open', tags: ['BTC-USD'], importance: 0.9 }] },
    { method: 'recall', agentId: 'a1', args: [{ query: 'breakouts', k: 5, kinds: ['lesson'], consistency: 'tok1', since: '2025-01-01T00:00:00Z' }] },
    { method: 'similarDecisions', agentId: 'a1', args: [{ situation: [1, 2], symbol: 'ETH-USD', includeTeam: true }] },
    { method: 'decisionContext', agentId: 'a1', args: ['d1'] },
  ]);
});

test('mcp - a tool argument cannot choose the agent', async () => {
  const c = await connect({ 'Fb-Agent-Id': 'a1' });
  const n = fake.calls.length;
  for (const [name, args] of [
    ['recall', { query: 'x', agentId: 'a2' }],
    ['remember', { kind: 'fact', text: 't', agentId: 'a2' }],
    ['recall_similar_decisions', { situation: [1], agentId: 'a2' }],
    ['decision_context', { decisionId: 'd1', agentId: 'a2' }],
  ] as const) {
    const r = await call(c, name, args);
    assert.equal(r.isError, true, name);
    assert.match(textOf(r), /agentId/, name);
  }
  assert.deepEqual(callsSince(n), [], 'no call reached the api');
});

test('mcp - concurrent clients stay separate (stateless server per request)', async () => {
  const [c1, c2] = await Promise.all([connect({ 'Fb-Agent-Id': 'a1' }), connect({ 'Fb-Agent-Id': 'a2' })]);
  const n = fake.calls.length;
  await Promise.all(Array.from({ length: 10 }, (_, i) => call(i % 2 ? c2 : c1, 'recall', { query: `q${i}` })));
  for (const x of callsSince(n)) {
    const i = Number((x.args[0] as { query: string }).query.slice(1));
    assert.equal(x.agentId, i % 2 ? 'a2' : 'a1');
  }
  assert.equal(callsSince(n).length, 10);
});

test('mcp - a missing or invalid Fb-Agent-Id fails the connection with 401', async () => {
  await assert.rejects(connect({}), (err: Error) => err instanceof StreamableHTTPError && err.code === 401 && /Fb-Agent-Id header is missing/.test(err.message));
  await assert.rejects(connect({ 'Fb-Agent-Id': 'not an id!' }), /Fb-Agent-Id/);
  const raw = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }),
  });
  assert.equal(raw.status, 401);
  const body = (await raw.json()) as { jsonrpc: string; id: number; error: { message: string } };
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.id, 7);
  assert.match(body.error.message, /Set the HTTP header Fb-Agent-Id/);
});

test('mcp - api and validation errors come back as tool errors the model can act on', async () => {
  const c = await connect({ 'Fb-Agent-Id': 'a1' });
  const nf = await call(c, 'decision_context', { decisionId: 'missing' });
  assert.equal(nf.isError, true);
  assert.equal(textOf(nf), "NOT_FOUND: decision 'missing' was not found");

  const denied = await call(c, 'remember', { kind: 'fact', text: 'denied', scope: 'fleet' });
  assert.equal(denied.isError, true);
  assert.match(textOf(denied), /^SCOPE_DENIED: /);

  const internal = await call(c, 'decision_context', { decisionId: 'boom' });
  assert.equal(internal.isError, true);
  assert.match(textOf(internal), /^INTERNAL: /);
  assert.doesNotMatch(textOf(internal), /hunter2/, 'internal details stay in the log');

  const bad = await call(c, 'remember', { kind: 'rumour', text: 't', importance: 2 });
  assert.equal(bad.isError, true);
  assert.match(textOf(bad), /kind/);
  assert.match(textOf(bad), /importance/);
});

test('mcp - GET and DELETE answer 405 (stateless), and /mcp stays out of the OpenAPI document', async () => {
  for (const method of ['GET', 'DELETE']) {
    const r = await fetch(url, { method, headers: { 'Fb-Agent-Id': 'a1', accept: 'text/event-stream' } });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.get('allow'), 'POST');
    await r.body?.cancel();
  }
  const doc = app.swagger() as { paths?: Record<string, unknown> };
  assert.ok(!Object.keys(doc.paths ?? {}).some((p) => p.startsWith('/mcp')));
});
