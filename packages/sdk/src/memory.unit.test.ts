import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { consistencyTokenOf, partitionOf } from '@farmbrain/contracts';
import {
  FarmbrainAgent,
  FarmbrainError,
  FlushTimeoutError,
  GatewayClient,
  GatewayError,
  InvalidRequestError,
  type DecisionContext,
  type RecallResponse,
  type SimilarDecisionsResponse,
} from './index.js';

// ---------------------------------------------------------------------------
// A real HTTP server standing in for the gateway: it records every request and
// answers with `respond` (a canned 200 per route unless a test replaces it).
// ---------------------------------------------------------------------------

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

const RECALL: RecallResponse = {
  recallId: '0190f0f0-0000-7000-8000-000000000001',
  hits: [{
    memory: {
      memoryId: 'm1', agentId: 'agent-a', kind: 'lesson', text: 'Breakouts on low volume fade.', tags: ['btc'], importance: 0.8,
      scope: 'agent', scopeId: '', version: 1, createdAt: 1, updatedAt: 1, expiresAt: null, embeddingModel: 'e5',
    },
    score: 0.03,
    parts: { vector: { similarity: 0.9, rank: 1 }, text: null, recency: { ageMs: 5, rank: 1 }, importance: { value: 0.8, rank: 1 } },
    tier: 'hot',
  }],
  embeddingModel: 'e5',
  tookMs: 3,
};
const SIMILAR: SimilarDecisionsResponse = {
  neighbours: [],
  stats: { n: 0, wins: 0, losses: 0, winRate: null, meanPnl: null, stdevPnl: null, medianPnl: null, minPnl: null, maxPnl: null, meanHoldingMs: null },
};
const CONTEXT: DecisionContext = {
  decision: { decisionId: 'd1', agentId: 'agent-a', symbol: 'BTC-USD', action: 'buy', occurredAt: 1, rationale: '', memoryIds: [], recallIds: [], correlationId: '' },
  recalls: [],
  citedMemories: [],
};

function cannedResponse(req: Seen, res: ServerResponse): void {
  const path = new URL(req.url, 'http://x').pathname;
  const body = path.endsWith('/recall') ? RECALL : path.endsWith('/recall/decisions') ? SIMILAR : path.endsWith('/context') ? CONTEXT : undefined;
  if (!body) {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

let server: Server;
let base = '';
let seen: Seen[] = [];
let respond: (req: Seen, res: ServerResponse) => void = cannedResponse;

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: raw ? JSON.parse(raw) : undefined };
      seen.push(s);
      respond(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  seen = [];
  respond = cannedResponse;
});

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// A stand-in for NATS, so the agent's writes get receipts without a server:
// a JetStream publish is a NATS request answered with a PubAck JSON
// ({ stream, seq, duplicate }), which is all the agent reads from it. Acks can
// be held to simulate JetStream being slow. Real NATS is covered by the
// integration tests.
// ---------------------------------------------------------------------------

class FakeJetStream {
  seq = 100;
  hold = false;
  held: (() => void)[] = [];
  readonly connection = {
    options: {},
    request: async (_subject: string, _data: Uint8Array) => {
      if (this.hold) await new Promise<void>((r) => this.held.push(r));
      const ack = { stream: 'fb_in', seq: ++this.seq, duplicate: false };
      return { data: new TextEncoder().encode(JSON.stringify(ack)) };
    },
  } as unknown as NatsConnection;

  /** Lets the oldest held publish be acknowledged. */
  releaseOne(): void {
    this.held.shift()?.();
  }

  releaseAll(): void {
    this.hold = false;
    for (const r of this.held.splice(0)) r();
  }
}

const AGENT = 'agent-a';
const PARTITION = partitionOf(AGENT, 8);

async function rejectsWith(p: Promise<unknown>, code: string, cls: Function = FarmbrainError): Promise<FarmbrainError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof cls, `expected ${cls.name} ${code}, got ${String(caught)}`);
  assert.ok(caught instanceof FarmbrainError);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

// ---------------------------------------------------------------------------

describe('GatewayClient', () => {
  test('recall POSTs the request as JSON to /v1/agents/:agentId/recall and returns the response', async () => {
    const gw = new GatewayClient({ baseUrl: base });
    const req = { query: 'btc breakout', k: 5, tags: ['btc'], weights: { recency: 0.5 }, correlationId: 'c-1', consistency: 'c1.3:1z' };
    const out = await gw.recall(AGENT, req);
    assert.deepEqual(out, RECALL);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.url, '/v1/agents/agent-a/recall');
    assert.equal(seen[0]!.headers['content-type'], 'application/json');
    assert.deepEqual(seen[0]!.body, req);
  });

  test('recallSimilarDecisions POSTs to /recall/decisions', async () => {
    const gw = new GatewayClient({ baseUrl: base });
    const req = { situation: [0.1, -2, 3.5], symbol: 'BTC-USD', k: 200, includeTeam: true };
    assert.deepEqual(await gw.recallSimilarDecisions(AGENT, req), SIMILAR);
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.url, '/v1/agents/agent-a/recall/decisions');
    assert.deepEqual(seen[0]!.body, req);
  });

  test('decisionContext GETs /decisions/:id/context, with ?consistency only when given, ids URL-encoded', async () => {
    const gw = new GatewayClient({ baseUrl: `${base}/` }); // trailing slash is tolerated
    assert.deepEqual(await gw.decisionContext(AGENT, 'd1'), CONTEXT);
    await gw.decisionContext(AGENT, 'a/b c', { consistency: 'c1.3:1z,5:a' });
    await gw.decisionContext(AGENT, 'd1', { consistency: 'none' });
    assert.deepEqual(seen.map((s) => [s.method, s.url, s.body]), [
      ['GET', '/v1/agents/agent-a/decisions/d1/context', undefined],
      ['GET', '/v1/agents/agent-a/decisions/a%2Fb%20c/context?consistency=c1.3%3A1z%2C5%3Aa', undefined],
      ['GET', '/v1/agents/agent-a/decisions/d1/context', undefined],
    ]);
  });

  test('a base URL with a path prefix keeps it', async () => {
    respond = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(CONTEXT));
    const gw = new GatewayClient({ baseUrl: `${base}/farmbrain/` });
    await gw.decisionContext(AGENT, 'd1');
    assert.equal(seen[0]!.url, '/farmbrain/v1/agents/agent-a/decisions/d1/context');
  });

  test('an error body becomes a GatewayError with status, code, message and details', async () => {
    const details = [{ instancePath: '/k', message: 'must be <= 100' }];
    respond = (_req, res) =>
      res.writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'VALIDATION_FAILED', message: 'request body/k must be <= 100', details } }));
    const err = await rejectsWith(new GatewayClient({ baseUrl: base }).recall(AGENT, { query: 'x' }), 'VALIDATION_FAILED', GatewayError) as GatewayError;
    assert.equal(err.status, 400);
    assert.deepEqual(err.details, details);
    assert.match(err.message, /request body\/k must be <= 100/);
    assert.match(err.message, /HTTP 400 from POST http:\/\/127\.0\.0\.1:\d+\/v1\/agents\/agent-a\/recall/);
    assert.equal(err.name, 'GatewayError');
  });

  test('a 404 from the gateway keeps its code', async () => {
    respond = (_req, res) =>
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: "decision 'nope' was not found" } }));
    const err = await rejectsWith(new GatewayClient({ baseUrl: base }).decisionContext(AGENT, 'nope'), 'NOT_FOUND', GatewayError) as GatewayError;
    assert.equal(err.status, 404);
    assert.equal(err.details, undefined);
  });

  test('a non-farmbrain error response becomes GATEWAY_ERROR; a non-JSON 2xx GATEWAY_BAD_RESPONSE', async () => {
    respond = (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
    const e1 = await rejectsWith(new GatewayClient({ baseUrl: base }).recall(AGENT, { query: 'x' }), 'GATEWAY_ERROR', GatewayError) as GatewayError;
    assert.equal(e1.status, 502);
    assert.match(e1.message, /Bad Gateway/);
    respond = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    const e2 = await rejectsWith(new GatewayClient({ baseUrl: base }).recall(AGENT, { query: 'x' }), 'GATEWAY_BAD_RESPONSE', GatewayError) as GatewayError;
    assert.equal(e2.status, 200);
  });

  test('an unreachable gateway is GATEWAY_UNREACHABLE, naming the URL and the fix', async () => {
    const port = await deadPort();
    const err = await rejectsWith(
      new GatewayClient({ baseUrl: `http://127.0.0.1:${port}` }).recall(AGENT, { query: 'x' }),
      'GATEWAY_UNREACHABLE',
      GatewayError,
    ) as GatewayError;
    assert.equal(err.status, 0);
    assert.ok(err.message.includes(`http://127.0.0.1:${port}/v1/agents/agent-a/recall`), err.message);
    assert.match(err.message, /ECONNREFUSED/);
    assert.match(err.message, /'gateway' option/);
    assert.ok(err.cause instanceof Error);
  });

  test('a gateway that does not answer in time is GATEWAY_TIMEOUT; a caller abort rejects with its reason', async () => {
    const stuck: ServerResponse[] = [];
    respond = (_req, res) => void stuck.push(res);
    try {
      const gw = new GatewayClient({ baseUrl: base, timeoutMs: 5000 });
      const err = await rejectsWith(gw.recall(AGENT, { query: 'x' }, { timeoutMs: 80 }), 'GATEWAY_TIMEOUT', GatewayError);
      assert.match(err.message, /within 80 ms/);

      const ac = new AbortController();
      const p = gw.recall(AGENT, { query: 'x' }, { signal: ac.signal });
      await until('the request to arrive', () => seen.length === 2);
      const reason = new Error('shutting down');
      ac.abort(reason);
      await assert.rejects(p, (e) => e === reason);
    } finally {
      for (const r of stuck) r.destroy();
    }
  });

  test('invalid requests are rejected with INVALID_REQUEST before anything is sent', async () => {
    const gw = new GatewayClient({ baseUrl: base });
    const cases: [Promise<unknown>, string][] = [
      [gw.recall(AGENT, { query: 'x', k: 0 }), 'k'],
      [gw.recall(AGENT, { query: 'x', k: 101 }), 'k'],
      [gw.recall(AGENT, { query: 'x', k: 2.5 }), 'k'],
      [gw.recall(AGENT, { vector: [] }), 'vector'],
      [gw.recall(AGENT, { vector: [1, Number.NaN] }), 'vector[1]'],
      [gw.recall(AGENT, { query: 'x', weights: { text: -1 } }), 'weights.text'],
      [gw.recall(AGENT, { query: 'x', consistency: '' }), 'consistency'],
      [gw.recall('bad agent!', { query: 'x' }), 'agentId'],
      [gw.recallSimilarDecisions(AGENT, { situation: [] }), 'situation'],
      [gw.recallSimilarDecisions(AGENT, { situation: [1, Infinity] }), 'situation[1]'],
      [gw.recallSimilarDecisions(AGENT, { situation: 'x' as unknown as number[] }), 'situation'],
      [gw.recallSimilarDecisions(AGENT, { situation: [1], k: 201 }), 'k'],
      [gw.decisionContext(AGENT, ''), 'decisionId'],
    ];
    for (const [p, field] of cases) {
      const err = await rejectsWith(p, 'INVALID_REQUEST', InvalidRequestError) as InvalidRequestError;
      assert.equal(err.field, field, err.message);
    }
    // Valid edge cases pass.
    await gw.recall(AGENT, { vector: [0.1, 0.2], k: 1 });
    await gw.recall(AGENT, { query: 'x', vector: [1], k: 100 });
    await gw.recallSimilarDecisions(AGENT, { situation: [0], k: 1 });
    assert.equal(seen.length, 3);
  });

  test('a bad base URL or timeout is rejected by the constructor', () => {
    assert.throws(() => new GatewayClient({ baseUrl: '127.0.0.1:8080' }), (e: FarmbrainError) => e.code === 'INVALID_GATEWAY_URL');
    assert.throws(() => new GatewayClient({ baseUrl: 'nats://127.0.0.1:4222' }), (e: FarmbrainError) => e.code === 'INVALID_GATEWAY_URL');
    assert.throws(() => new GatewayClient({ baseUrl: 'not a url' }), (e: FarmbrainError) => e.code === 'INVALID_GATEWAY_URL');
    assert.throws(() => new GatewayClient({ baseUrl: base, timeoutMs: 0 }), (e: FarmbrainError) => e.code === 'INVALID_OPTION');
  });
});

describe('FarmbrainAgent reads', () => {
  let nats: FakeJetStream;
  let agent: FarmbrainAgent;

  beforeEach(() => {
    nats = new FakeJetStream();
    agent = new FarmbrainAgent({ agentId: AGENT, connection: nats.connection, gateway: base, batch: { lingerMs: 0 } });
  });

  afterEach(async () => {
    nats.releaseAll();
    await agent.close();
  });

  test('without a gateway, reads fail with NO_GATEWAY (and recording still works)', async () => {
    const a = new FarmbrainAgent({ agentId: 'no-gw', connection: nats.connection });
    try {
      const err = await rejectsWith(a.recall({ query: 'x' }), 'NO_GATEWAY');
      assert.match(err.message, /gateway: 'http:\/\/127\.0\.0\.1:8080'/);
      await rejectsWith(a.recallSimilarDecisions({ situation: [1] }), 'NO_GATEWAY');
      await rejectsWith(a.decisionContext('d1'), 'NO_GATEWAY');
      await a.setStatus('active');
    } finally {
      await a.close();
    }
    assert.equal(seen.length, 0);
  });

  test('a bad gateway option is rejected by the constructor', () => {
    assert.throws(
      () => new FarmbrainAgent({ agentId: AGENT, connection: nats.connection, gateway: 'localhost:8080' }),
      (e: FarmbrainError) => e.code === 'INVALID_GATEWAY_URL',
    );
  });

  test('receipts carry the write\'s consistency token; the agent keeps the latest', async () => {
    assert.equal(agent.consistencyToken, undefined);
    const r1 = await agent.recordDecision({ symbol: 'BTC-USD', action: 'buy', confidence: 0.7 });
    assert.equal(r1.streamSeq, 101);
    assert.equal(r1.consistencyToken, consistencyTokenOf(PARTITION, 101));
    assert.equal(agent.consistencyToken, r1.consistencyToken);
    const r2 = await agent.remember({ kind: 'lesson', text: 'Breakouts on low volume fade.' });
    assert.equal(r2.consistencyToken, consistencyTokenOf(PARTITION, 102));
    assert.equal(agent.consistencyToken, r2.consistencyToken);
  });

  test('before any write, a recall sends no consistency token', async () => {
    const out = await agent.recall({ query: 'btc', k: 3 });
    assert.equal(out.recallId, RECALL.recallId);
    assert.deepEqual(seen[0]!.body, { query: 'btc', k: 3 });
    assert.equal(seen[0]!.url, '/v1/agents/agent-a/recall');
  });

  test('each read sends the token of the agent\'s prior writes (read-your-writes)', async () => {
    await agent.remember({ kind: 'lesson', text: 'one' });
    const { consistencyToken } = await agent.remember({ kind: 'lesson', text: 'two' });
    assert.equal(consistencyToken, consistencyTokenOf(PARTITION, 102));

    await agent.recall({ query: 'lesson', tags: ['btc'] });
    await agent.recallSimilarDecisions({ situation: [0.5, 1.5], symbol: 'BTC-USD' });
    await agent.decisionContext('d-42');
    assert.deepEqual(seen.map((s) => [s.method, s.url, s.body]), [
      ['POST', '/v1/agents/agent-a/recall', { query: 'lesson', tags: ['btc'], consistency: consistencyToken }],
      ['POST', '/v1/agents/agent-a/recall/decisions', { situation: [0.5, 1.5], symbol: 'BTC-USD', consistency: consistencyToken }],
      ['GET', `/v1/agents/agent-a/decisions/d-42/context?consistency=${encodeURIComponent(consistencyToken)}`, undefined],
    ]);
  });

  test('a read first waits for writes still in the outbox, so its token covers them', async () => {
    nats.hold = true;
    const write = agent.remember({ kind: 'lesson', text: 'just learned' });
    await until('the publish', () => nats.held.length === 1);
    const read = agent.recall({ query: 'just learned' });
    await sleep(50);
    assert.equal(seen.length, 0, 'the recall must not be sent before the write is acknowledged');
    nats.releaseAll();
    const [receipt] = await Promise.all([write, read]);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]!.body, { query: 'just learned', consistency: receipt.consistencyToken });
  });

  test('a read waits only for writes recorded before it, not for later ones', async () => {
    nats.hold = true;
    const first = agent.recordDecision({ symbol: 'BTC-USD', action: 'buy', confidence: 0.6 });
    await until('the first publish', () => nats.held.length === 1);
    const read = agent.decisionContext('d1');
    const second = agent.recordDecision({ symbol: 'BTC-USD', action: 'sell', confidence: 0.6 });
    nats.releaseOne(); // acks the first only; the second is then published and held
    const r1 = await first;
    await read;
    assert.equal(agent.pending, 1, 'the second write is still unacknowledged');
    assert.equal(seen[0]!.url, `/v1/agents/agent-a/decisions/d1/context?consistency=${encodeURIComponent(r1.consistencyToken)}`);
    nats.releaseAll();
    await second;
  });

  test('an explicit token is sent as given, without waiting for the outbox', async () => {
    nats.hold = true;
    const write = agent.remember({ kind: 'lesson', text: 'pending' });
    await agent.recall({ query: 'x' }, { consistency: 'c1.5:zz' });
    await agent.recall({ query: 'x', consistency: 'c1.6:a' });
    await agent.recall({ query: 'x', consistency: 'c1.6:a' }, { consistency: 'c1.7:b' }); // options win over the body
    await agent.decisionContext('d1', { consistency: 'c1.5:zz' });
    assert.deepEqual(seen.map((s) => s.body ?? s.url), [
      { query: 'x', consistency: 'c1.5:zz' },
      { query: 'x', consistency: 'c1.6:a' },
      { query: 'x', consistency: 'c1.7:b' },
      '/v1/agents/agent-a/decisions/d1/context?consistency=c1.5%3Azz',
    ]);
    nats.releaseAll();
    await write;
  });

  test("consistency: 'none' neither waits nor sends a token", async () => {
    await agent.remember({ kind: 'lesson', text: 'acked' });
    nats.hold = true;
    const write = agent.remember({ kind: 'lesson', text: 'pending' });
    await agent.recall({ query: 'x' }, { consistency: 'none' });
    await agent.recallSimilarDecisions({ situation: [1], consistency: 'none' });
    await agent.decisionContext('d1', { consistency: 'none' });
    assert.deepEqual(seen.map((s) => s.body ?? s.url), [
      { query: 'x' },
      { situation: [1] },
      '/v1/agents/agent-a/decisions/d1/context',
    ]);
    nats.releaseAll();
    await write;
  });

  test('if the outbox does not drain in time, a read fails with FLUSH_TIMEOUT and sends nothing', async () => {
    nats.hold = true;
    const write = agent.remember({ kind: 'lesson', text: 'stuck' });
    const err = await rejectsWith(agent.recall({ query: 'x' }, { flushTimeoutMs: 50 }), 'FLUSH_TIMEOUT', FlushTimeoutError);
    assert.match(err.message, /recall\(\) waits for them/);
    assert.match(err.message, /consistency: 'none'/);
    assert.equal(seen.length, 0);
    nats.releaseAll();
    await write;
  });

  test('invalid requests fail fast with INVALID_REQUEST, without waiting for the outbox', async () => {
    nats.hold = true;
    const write = agent.remember({ kind: 'lesson', text: 'pending' });
    await rejectsWith(agent.recall({ query: 'x', k: 1000 }), 'INVALID_REQUEST', InvalidRequestError);
    await rejectsWith(agent.recallSimilarDecisions({ situation: [Number.NaN] }), 'INVALID_REQUEST', InvalidRequestError);
    await rejectsWith(agent.decisionContext(''), 'INVALID_REQUEST', InvalidRequestError);
    assert.equal(seen.length, 0);
    nats.releaseAll();
    await write;
  });

  test('gateway errors reach the caller as GatewayError', async () => {
    respond = (_req, res) =>
      res.writeHead(503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE', message: 'postgres is down', details: { retryAfterMs: 1000 } } }));
    const err = await rejectsWith(agent.recallSimilarDecisions({ situation: [1, 2] }), 'SERVICE_UNAVAILABLE', GatewayError) as GatewayError;
    assert.equal(err.status, 503);
    assert.deepEqual(err.details, { retryAfterMs: 1000 });
  });

  test('gatewayTimeoutMs bounds each read', async () => {
    const stuck: ServerResponse[] = [];
    respond = (_req, res) => void stuck.push(res);
    const a = new FarmbrainAgent({ agentId: 'slow-reader', connection: nats.connection, gateway: base, gatewayTimeoutMs: 60 });
    try {
      await rejectsWith(a.recall({ query: 'x' }), 'GATEWAY_TIMEOUT', GatewayError);
    } finally {
      for (const r of stuck) r.destroy();
      await a.close();
    }
  });
});
