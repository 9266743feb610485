// The gateway's route plugins through buildApp, with in-memory stores (no NATS,
// Redis or Postgres): validation, error mapping, replies serialized through the
// response schemas, readiness, the OpenAPI route list, and that every route reads
// its store at request time (the live projection version can change under it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { defaultEventLimits, FarmbrainError, names as makeNames, SCHEMA_VERSION, type FarmEvent } from '@farmbrain/contracts';
import { createLogger, type Readiness } from '@farmbrain/platform';
import { buildApp, type AppDeps, type GatewayApp } from './app.js';
import { NotFoundError, UnknownAgentError } from './http/errors.js';
import { following } from './live/following.js';
import type { DeadLetterItem } from '@farmbrain/contracts';
import type { AgentState } from './read/agentState.js';
import type { MemoryApi } from './memory/types.js';
import type { AgentReads } from './routes/agents.js';
import type { TimeTravelReads } from './routes/timeTravel.js';
import type { RecordReads } from './routes/lifecycle.js';
import type { DeadLetters } from './routes/deadLetters.js';
import type { EventsIn } from './routes/events.js';
import { opsRoutes } from './routes/ops.js';
import { EventsRejectedError, EventWriter } from './write/eventsIn.js';

const AT = '2025-03-14T13:30:00.000Z';
const emptyPage = { items: [], nextCursor: null };

/** Reads over a fixed set of agents; `calls` records each read with its (coerced) query. */
function fakeReads(name: string, agents: readonly string[] = ['a1']) {
  const calls: { method: string; agentId?: string; q?: unknown }[] = [];
  const known = (agentId: string) => {
    if (!agents.includes(agentId)) throw new UnknownAgentError(agentId);
  };
  const state = (agentId: string): AgentState & { internal: string } => ({
    agentId, name, team: 'momentum', strategy: 'breakout', status: 'active', config: { risk: 1 },
    registeredAt: AT, firstSeenAt: AT, lastEventAt: AT,
    openPositions: [], recentDecisions: [], recentMemories: [], source: 'hot',
    internal: 'left out by the response schema',
  });
  const reads: AgentReads & RecordReads & TimeTravelReads = {
    async stateAsOf(agentId, at) {
      calls.push({ method: 'stateAsOf', agentId, q: at.toISOString() });
      known(agentId);
      const { internal: _i, ...s } = state(agentId);
      return { asOf: at.toISOString(), state: { ...s, source: 'history' as const }, checkpoint: null, since: { decisions: 0, trades: 0, memoryChanges: 0 } };
    },
    async currentCheckpoint(agentId) {
      calls.push({ method: 'currentCheckpoint', agentId });
      known(agentId);
      return null;
    },
    async listAgents(q) {
      calls.push({ method: 'listAgents', q: { ...q } });
      return { items: agents.map((a) => state(a)), nextCursor: null };
    },
    async agentState(agentId) {
      calls.push({ method: 'agentState', agentId });
      return agents.includes(agentId) ? state(agentId) : undefined;
    },
    async decisions(agentId, q) {
      calls.push({ method: 'decisions', agentId, q: { ...q } });
      known(agentId);
      return {
        items: [{
          decisionId: 'd1', agentId, occurredAt: AT, symbol: 'BTC-USD', action: 'buy', size: 1, confidence: 0.7, rationale: name,
          situation: [0.1, 0.2], memoryIds: [], recallIds: [], producerSeq: 3, correlationId: '', tier: 'warm' as const,
        }],
        nextCursor: 'next',
      };
    },
    async trades(agentId, q) {
      calls.push({ method: 'trades', agentId, q: { ...q } });
      known(agentId);
      return emptyPage;
    },
    async positions(agentId, q) {
      calls.push({ method: 'positions', agentId, q: { ...q } });
      known(agentId);
      return emptyPage;
    },
    async checkpoints(agentId, q) {
      calls.push({ method: 'checkpoints', agentId, q: { ...q } });
      known(agentId);
      return emptyPage;
    },
    async checkpoint(agentId, checkpointId) {
      calls.push({ method: 'checkpoint', agentId, q: checkpointId });
      known(agentId);
      return undefined;
    },
    async memories(agentId, q) {
      calls.push({ method: 'memories', agentId, q: { ...q } });
      known(agentId);
      return emptyPage;
    },
    async record(recordId) {
      calls.push({ method: 'record', q: recordId });
      throw new NotFoundError('record', recordId);
    },
    async explain(recordId) {
      calls.push({ method: 'explain', q: recordId });
      return { recordId, kind: 'decision' as const, agentId: 'a1', tier: 'cold' as const, occurredAt: AT, since: AT, history: [], legalHold: null };
    },
  };
  return { reads, calls };
}

function fakeMemory() {
  const calls: { method: string; args: unknown[] }[] = [];
  const result = (memoryId: string) => ({ memoryId, eventId: 'e1', consistencyToken: '0:7' });
  const memory: MemoryApi = {
    async remember(agentId, input) {
      calls.push({ method: 'remember', args: [agentId, input] });
      if (input.scope === 'fleet') throw new FarmbrainError('SCOPE_FORBIDDEN', 'not a fleet writer');
      return result(input.memoryId ?? 'm1');
    },
    async update(agentId, memoryId, patch) {
      calls.push({ method: 'update', args: [agentId, memoryId, patch] });
      return result(memoryId);
    },
    async forget(agentId, memoryId, reason, consistency) {
      calls.push({ method: 'forget', args: [agentId, memoryId, reason, consistency] });
      return result(memoryId);
    },
    async recall(agentId, req) {
      calls.push({ method: 'recall', args: [agentId, req] });
      return { recallId: 'r1', hits: [], embeddingModel: '', tookMs: 1 };
    },
    async consolidate(agentId, req) {
      calls.push({ method: 'consolidate', args: [agentId, req] });
      return { agentId, dryRun: Boolean(req.dryRun), candidates: 0, groups: [], removedFromRecall: 0, threshold: 0.9, minTagOverlap: 0.75 };
    },
    async erase(agentId, memoryId, body) {
      calls.push({ method: 'erase', args: [agentId, memoryId, body] });
      return { memoryId, erased: [{ memoryId, eventId: 'e1', keyDestroyed: true }], scrubbedMessages: 0, consistencyToken: '0:7' };
    },
    async erasures(q) {
      calls.push({ method: 'erasures', args: [q] });
      return { items: [], nextCursor: null };
    },
    async similarDecisions(agentId, req) {
      calls.push({ method: 'similarDecisions', args: [agentId, req] });
      return {
        neighbours: [],
        stats: { n: 0, wins: 0, losses: 0, winRate: null, meanPnl: null, stdevPnl: null, medianPnl: null, minPnl: null, maxPnl: null, meanHoldingMs: null },
      };
    },
    async decisionContext(agentId, decisionId) {
      calls.push({ method: 'decisionContext', args: [agentId, decisionId] });
      throw new FarmbrainError('NOT_FOUND', `decision '${decisionId}' was not found`);
    },
  };
  return { memory, calls };
}

function fakeDeadLetters() {
  const item: DeadLetterItem = {
    id: 'p:1', source: 'projection', projection: 'tiering_v1', agentId: 'a1', eventId: 'e1', eventType: 'memory_updated',
    code: 'UNKNOWN_MEMORY', reason: 'no such memory', sqlstate: null, deadLetteredAt: AT, replayedAt: null, event: 'AAAA',
  };
  const notFound = (id: string) => new FarmbrainError('NOT_FOUND', `dead letter '${id}' was not found`);
  const deadLetters: DeadLetters = {
    async list() {
      return { items: [item], nextCursor: null };
    },
    async get(id) {
      if (id !== item.id) throw notFound(id);
      return item;
    },
    async replay(id) {
      if (id !== item.id) throw notFound(id);
      return { id, eventId: 'e1', streamSeq: 42, consistencyToken: '0:42' };
    },
  };
  return { deadLetters };
}

/** Accepts agent_registered events only; anything else is rejected as the real writer rejects an invalid event. */
function fakeWriter() {
  const published: FarmEvent[] = [];
  const writer: EventsIn = {
    toEvents(input) {
      const bad = input.findIndex((e) => e.type !== 'agent_registered');
      if (bad >= 0) throw new EventsRejectedError([{ index: bad, code: 'INVALID_FIELD', field: 'type', message: 'only agent_registered here' }]);
      return input.map((e, i): FarmEvent => ({
        eventId: e.eventId ?? `e${i}`, agentId: e.agentId, producerSeq: e.producerSeq ?? i + 1, occurredAt: 1, correlationId: '', causationId: '',
        schemaVersion: SCHEMA_VERSION, type: 'agent_registered', data: { name: String(e.data.name ?? ''), team: '', strategy: '', config: {} },
      }));
    },
    async publish(events) {
      published.push(...events);
      return events.map((e, i) => ({ eventId: e.eventId, agentId: e.agentId, producerSeq: e.producerSeq, streamSeq: published.length - events.length + i + 1, duplicate: false }));
    },
  };
  return { writer, published };
}

let readiness: Readiness = { status: 'ready', checks: { nats: true, postgres: true } };
const reads = fakeReads('blue');
const memory = fakeMemory();
const writer = fakeWriter();
let app: GatewayApp;

const deps = (over: Partial<AppDeps> = {}): AppDeps => ({
  reads: reads.reads, memory: memory.memory, deadLetters: fakeDeadLetters().deadLetters, writer: writer.writer,
  readiness: () => readiness, log: createLogger('gateway-test', 'silent'), maxEventsPerRequest: 3, bodyLimitBytes: 4096, partitions: 4, ...over,
});

before(async () => {
  app = await buildApp(deps());
});
after(() => app.close());

const get = (url: string) => app.inject({ method: 'GET', url });
const send = (method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
  app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
const errorOf = (r: { json(): unknown }) => (r.json() as { error: { code: string; message: string; details?: unknown[] } }).error;

test('time travel - as_of is parsed once, refused with 400 when it is not a time; a restore of an unknown checkpoint is 404 and publishes nothing', async () => {
  const ok = await get('/v1/agents/a1/state?as_of=2026-11-30T12:00:00Z');
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal((ok.json() as { asOf: string }).asOf, '2026-11-30T12:00:00.000Z');
  assert.equal((ok.json() as { state: { internal?: string } }).state.internal, undefined);
  const bad = await get('/v1/agents/a1/state?as_of=yesterday');
  assert.equal(bad.statusCode, 400);
  assert.equal((await get('/v1/agents/nobody/state')).statusCode, 404);
  const before = writer.published.length;
  const r = await send('POST', '/v1/agents/a1/restore', { checkpointId: '0190a0b0-0000-7000-8000-0000000000ff' });
  assert.equal(r.statusCode, 404, r.body);
  assert.equal(writer.published.length, before);
});

test('app - health and readiness: 200 when ready, 503 with the checks when degraded', async () => {
  assert.deepEqual((await get('/healthz')).json(), { status: 'ok' });
  const ok = await get('/readyz');
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), readiness);
  readiness = { status: 'degraded', checks: { nats: true, postgres: false } };
  try {
    const down = await get('/readyz');
    assert.equal(down.statusCode, 503);
    assert.deepEqual(down.json(), { status: 'degraded', checks: { nats: true, postgres: false } });
  } finally {
    readiness = { status: 'ready', checks: { nats: true, postgres: true } };
  }
});

test('app - a read answers through its response schema, with the query coerced and defaulted', async () => {
  const r = await get('/v1/agents/a1');
  assert.equal(r.statusCode, 200);
  const body = r.json() as Record<string, unknown>;
  assert.equal(body.agentId, 'a1');
  assert.equal(body.source, 'hot');
  assert.ok(!('internal' in body), 'a property the schema does not list is left out');

  const n = reads.calls.length;
  const page = await get('/v1/agents/a1/decisions?limit=2&symbol=BTC-USD');
  assert.equal(page.statusCode, 200);
  assert.equal((page.json() as { nextCursor: string }).nextCursor, 'next');
  assert.deepEqual(reads.calls.slice(n), [{ method: 'decisions', agentId: 'a1', q: { limit: 2, symbol: 'BTC-USD' } }]);

  await get('/v1/agents?team=momentum');
  assert.deepEqual(reads.calls.at(-1), { method: 'listAgents', q: { team: 'momentum', limit: 50 } });
});

test('app - an unknown agent is 404 UNKNOWN_AGENT, a missing checkpoint 404 NOT_FOUND', async () => {
  for (const url of ['/v1/agents/ghost', '/v1/agents/ghost/decisions', '/v1/agents/ghost/trades', '/v1/agents/ghost/positions',
    '/v1/agents/ghost/checkpoints', '/v1/agents/ghost/memories']) {
    const r = await get(url);
    assert.equal(r.statusCode, 404, url);
    assert.equal(errorOf(r).code, 'UNKNOWN_AGENT', url);
    assert.match(errorOf(r).message, /agent 'ghost' is unknown/);
  }
  const c = await get('/v1/agents/a1/checkpoints/0196f0e2-0000-7000-8000-000000000000');
  assert.equal(c.statusCode, 404);
  assert.equal(errorOf(c).code, 'NOT_FOUND');
});

test('app - invalid input is 400 VALIDATION_FAILED naming the parameter, in every plugin', async () => {
  const cases: [string, Promise<{ statusCode: number; json(): unknown }>, RegExp][] = [
    ['limit out of range', get('/v1/agents?limit=0'), /query parameter 'limit' must be an integer from 1 to 1000 \(got 0\)/],
    ['bad agent id', get('/v1/agents/bad!'), /path parameter 'agentId'/],
    ['non-finite (root preHandler)', get('/v1/agents/a1/decisions?limit=Infinity'), /query parameter 'limit' must be an integer from 1 to 1000 \(got Infinity\)/],
    ['enum', get('/v1/agents/a1/positions?status=maybe'), /query parameter 'status' must be one of open, closed/],
    ['empty events', send('POST', '/v1/events', { events: [] }), /body field 'events' must be a list of at least 1 items/],
    ['memory body', send('POST', '/v1/agents/a1/recall', { k: 1000 }), /body field 'k' must be an integer from 1 to 100 \(got 1000\)/],
    ['memory extra field', send('POST', '/v1/agents/a1/memories', { kind: 'lesson', text: 'x', agentId: 'a2' }), /body field 'agentId' is not accepted/],
    ['dead-letter query', get('/v1/dead-letters?foo=1'), /query parameter 'foo' is not accepted; accepted: source, agentId, code, limit, cursor/],
  ];
  for (const [what, pending, message] of cases) {
    const r = await pending;
    assert.equal(r.statusCode, 400, what);
    assert.equal(errorOf(r).code, 'VALIDATION_FAILED', what);
    assert.match(errorOf(r).message, message, what);
    assert.ok(Array.isArray(errorOf(r).details), what);
  }
});

test('app - errors of no route: unknown route 404, bad JSON 400, too large 413, bad percent-encoding 400', async () => {
  const none = await get('/v2/nothing');
  assert.equal(none.statusCode, 404);
  assert.deepEqual(none.json(), { error: { code: 'NOT_FOUND', message: 'no route GET /v2/nothing; see /docs' } });
  const badJson = await app.inject({ method: 'POST', url: '/v1/events', payload: '{bad', headers: { 'content-type': 'application/json' } });
  assert.equal(badJson.statusCode, 400);
  assert.equal(errorOf(badJson).code, 'BAD_REQUEST');
  const big = await send('POST', '/v1/events', { events: [{ agentId: 'a1', type: 'agent_registered', data: { name: 'x'.repeat(5000) } }] });
  assert.equal(big.statusCode, 413);
  assert.equal(errorOf(big).code, 'PAYLOAD_TOO_LARGE');
  const enc = await get('/v1/agents/%E0%A4%A');
  assert.equal(enc.statusCode, 400);
  assert.equal(errorOf(enc).code, 'BAD_REQUEST');
});

test('app - POST /v1/events: 202 with what was accepted; too many events 400; an invalid event 400 INVALID_EVENT', async () => {
  const ok = await send('POST', '/v1/events', { events: [{ agentId: 'a1', type: 'agent_registered', data: { name: 'one' }, eventId: 'x1' }] });
  assert.equal(ok.statusCode, 202);
  assert.deepEqual(ok.json(), { accepted: [{ eventId: 'x1', agentId: 'a1', producerSeq: 1, streamSeq: writer.published.length, duplicate: false }] });

  const ev = { agentId: 'a1', type: 'agent_registered', data: {} };
  const many = await send('POST', '/v1/events', { events: [ev, ev, ev, ev] });
  assert.equal(many.statusCode, 400);
  assert.deepEqual(errorOf(many), { code: 'BAD_REQUEST', message: 'a request may carry at most 3 events; got 4' });

  const invalid = await send('POST', '/v1/events', { events: [ev, { agentId: 'a1', type: 'decision_made', data: {} }] });
  assert.equal(invalid.statusCode, 400);
  assert.equal(errorOf(invalid).code, 'INVALID_EVENT');
  assert.deepEqual(errorOf(invalid).details, [{ index: 1, code: 'INVALID_FIELD', field: 'type', message: 'only agent_registered here' }]);
});

test('app - records across tiers: a listed item names its tier; records/:id 404 NOT_FOUND; explain answers through its schema', async () => {
  const page = await get('/v1/agents/a1/decisions');
  assert.equal((page.json() as { items: { tier: string }[] }).items[0]!.tier, 'warm');
  const missing = await get('/v1/records/0196f0e2-0000-7000-8000-000000000000');
  assert.equal(missing.statusCode, 404);
  assert.equal(errorOf(missing).code, 'NOT_FOUND');
  const ex = await get('/v1/lifecycle/explain/0196f0e2-0000-7000-8000-000000000000');
  assert.equal(ex.statusCode, 200);
  assert.deepEqual(ex.json(), { recordId: '0196f0e2-0000-7000-8000-000000000000', kind: 'decision', agentId: 'a1', tier: 'cold', occurredAt: AT, since: AT, history: [], legalHold: null });
  assert.equal((await get('/v1/records/a%00b')).statusCode, 400);
});

test('app - POST /v1/events refuses system events: agents cannot move, delete or hold their own records', () => {
  const w = new EventWriter(null as never, makeNames('unit', 4), defaultEventLimits());
  for (const [type, data] of [
    ['records_moved', { kind: 'decision', fromTier: 'warm', toTier: 'deleted', recordIds: ['0196f0e2-0000-7000-8000-000000000000'], policy: 'mine' }],
    ['legal_hold_changed', { held: false }],
  ] as const) {
    assert.throws(() => w.toEvents([{ agentId: 'a1', type, data }]), (err: unknown) => {
      assert.ok(err instanceof EventsRejectedError);
      assert.equal(err.code, 'INVALID_EVENT');
      assert.deepEqual(err.issues.map((i) => [i.index, i.field, i.code]), [[0, 'type', 'INVALID_FIELD']]);
      assert.match(err.issues[0]!.message, /published by farmbrain itself/);
      return true;
    });
  }
  assert.equal(w.toEvents([{ agentId: 'a1', type: 'agent_registered', data: { name: 'ok' } }]).length, 1);
});

test('app - memory routes reach the MemoryApi with typed params, query and body', async () => {
  const n = memory.calls.length;
  const stored = await send('POST', '/v1/agents/a1/memories', { kind: 'lesson', text: 'cut losers early', tags: ['BTC-USD'], importance: 0.8 });
  assert.equal(stored.statusCode, 201);
  assert.deepEqual(stored.json(), { memoryId: 'm1', eventId: 'e1', consistencyToken: '0:7' });
  assert.equal((await send('PATCH', '/v1/agents/a1/memories/m1', { text: 'cut losers earlier', consistency: '0:7' })).statusCode, 200);
  assert.equal((await send('DELETE', '/v1/agents/a1/memories/m1?reason=stale&consistency=0:8')).statusCode, 200);
  assert.equal((await send('DELETE', '/v1/agents/a1/memories/m2')).statusCode, 200);
  assert.equal((await send('POST', '/v1/agents/a1/recall', { query: 'breakouts', k: 5 })).statusCode, 200);
  assert.equal((await send('POST', '/v1/agents/a1/recall/decisions', { situation: [0.1, 0.2] })).statusCode, 200);
  assert.deepEqual(memory.calls.slice(n), [
    { method: 'remember', args: ['a1', { kind: 'lesson', text: 'cut losers early', tags: ['BTC-USD'], importance: 0.8 }] },
    { method: 'update', args: ['a1', 'm1', { text: 'cut losers earlier', consistency: '0:7' }] },
    { method: 'forget', args: ['a1', 'm1', 'stale', '0:8'] },
    { method: 'forget', args: ['a1', 'm2', '', undefined] },
    { method: 'recall', args: ['a1', { query: 'breakouts', k: 5 }] },
    { method: 'similarDecisions', args: ['a1', { situation: [0.1, 0.2], k: 10 }] },
  ]);

  const forbidden = await send('POST', '/v1/agents/a1/memories', { kind: 'fact', text: 'fees', scope: 'fleet' });
  assert.equal(forbidden.statusCode, 403);
  assert.equal(errorOf(forbidden).code, 'SCOPE_FORBIDDEN');
  const context = await get('/v1/agents/a1/decisions/d9/context');
  assert.equal(context.statusCode, 404);
  assert.equal(errorOf(context).code, 'NOT_FOUND');
});

test('app - dead letters: list, 404 for an unknown id, replay 202', async () => {
  const list = await get('/v1/dead-letters?source=projection&limit=10');
  assert.equal(list.statusCode, 200);
  assert.equal((list.json() as { items: DeadLetterItem[] }).items[0]!.id, 'p:1');
  const missing = await get('/v1/dead-letters/p:9');
  assert.equal(missing.statusCode, 404);
  assert.equal(errorOf(missing).code, 'NOT_FOUND');
  const replay = await send('POST', '/v1/dead-letters/p:1/replay');
  assert.equal(replay.statusCode, 202);
  assert.deepEqual(replay.json(), { id: 'p:1', eventId: 'e1', streamSeq: 42, consistencyToken: '0:42' });
});

test('app - the OpenAPI document lists every route (not /mcp, not /docs), each with the 500 error body', async () => {
  const paths = app.swagger().paths ?? {};
  const ops = Object.entries(paths).flatMap(([path, item]) =>
    Object.keys(item ?? {}).filter((m) => ['get', 'post', 'patch', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${path}`));
  assert.deepEqual(ops.sort(), [
    'DELETE /v1/agents/{agentId}/memories/{memoryId}',
    'GET /healthz', 'GET /readyz', 'GET /v1/agents', 'GET /v1/agents/{agentId}', 'GET /v1/agents/{agentId}/checkpoints',
    'GET /v1/agents/{agentId}/checkpoints/{checkpointId}', 'GET /v1/agents/{agentId}/checkpoints/current', 'GET /v1/agents/{agentId}/state',
    'POST /v1/agents/{agentId}/restore', 'GET /v1/agents/{agentId}/decisions',
    'GET /v1/agents/{agentId}/decisions/{decisionId}/context', 'GET /v1/agents/{agentId}/memories', 'GET /v1/agents/{agentId}/positions',
    'GET /v1/agents/{agentId}/trades', 'GET /v1/dead-letters', 'GET /v1/dead-letters/{id}', 'GET /v1/lifecycle/explain/{recordId}', 'GET /v1/records/{recordId}',
    'PATCH /v1/agents/{agentId}/memories/{memoryId}',
    'POST /v1/agents/{agentId}/memories', 'POST /v1/agents/{agentId}/recall', 'POST /v1/agents/{agentId}/recall/decisions',
    'POST /v1/dead-letters/{id}/replay', 'POST /v1/events',
    'POST /v1/agents/{agentId}/memories/consolidate', 'POST /v1/agents/{agentId}/memories/{memoryId}/erase', 'GET /v1/erasures',
  ].sort());
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item ?? {})) {
      const responses = (op as { responses?: Record<string, unknown> }).responses ?? {};
      assert.ok('500' in responses, `${method} ${path} documents 500`);
    }
  }
  // The MCP route exists, hidden from the document.
  assert.equal((await send('POST', '/mcp', {})).statusCode, 401);
});

test('app - routes read their stores at request time: a switch of the live version moves the next request', async () => {
  const blue = fakeReads('blue');
  const green = fakeReads('green');
  let live = blue.reads;
  const switching = await buildApp(deps({ reads: following(() => live) }));
  try {
    const nameOf = async () => ((await switching.inject({ method: 'GET', url: '/v1/agents/a1' })).json() as { name: string }).name;
    assert.equal(await nameOf(), 'blue');
    live = green.reads;
    assert.equal(await nameOf(), 'green');
    assert.equal(blue.calls.length, 1);
    assert.equal(green.calls.length, 1);
  } finally {
    await switching.close();
  }
});

test('app - a route plugin stands alone: registered on a bare instance it serves its routes only', async () => {
  const bare = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  await bare.register(opsRoutes, { readiness: () => ({ status: 'ready', checks: {} }) });
  try {
    assert.equal((await bare.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal((await bare.inject({ method: 'GET', url: '/v1/agents' })).statusCode, 404);
  } finally {
    await bare.close();
  }
});
