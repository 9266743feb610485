import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonSchema } from './http/validation.js';
import fc from 'fast-check';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { TestStack } from '@farmbrain/testing';

/**
 * Hostile input on every route of the OpenAPI document, against a real stack:
 * the gateway never answers 5xx, every error has the one error shape, a
 * rejected request writes nothing to the log, and reads never create agents.
 */

// CI: a fixed seed, so a failure reproduces. Locally, FB_PROPERTY_RUNS=5000 runs longer with a fresh seed (printed on failure).
const LOCAL_RUNS = Number(process.env.FB_PROPERTY_RUNS ?? '');
const RUN_PARAMS = LOCAL_RUNS > 0 ? { numRuns: LOCAL_RUNS } : { seed: 42, numRuns: 8000, interruptAfterTimeLimit: 45_000, markInterruptAsFailure: false };

const stack = new TestStack({ env: { FB_CONSISTENCY_TIMEOUT_MS: '300' } });
const AGENT = 'fz-1';
const fixture = { decisionId: '', checkpointId: '', memoryId: '', token: '' };

type Schema = JsonSchema;
interface Param { name: string; in: 'path' | 'query'; schema: Schema }
interface Op { method: string; path: string; params: Param[]; body?: Schema }
type Doc = { paths: Record<string, Record<string, { parameters?: Param[]; requestBody?: { content: Record<string, { schema: Schema }> }; responses?: Record<string, { content?: Record<string, unknown> }> }>> };

const ingressCount = async () => (await stack.jsm.streams.info(stack.names.ingressStream)).state.messages;

async function send(method: string, url: string, body?: string, contentType?: string): Promise<{ status: number; text: string; json: unknown }> {
  const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
  const r = await fetch(`${stack.gatewayUrl}${url}`, {
    method, headers, signal: AbortSignal.timeout(20_000),
    ...(body !== undefined && method !== 'GET' ? { body } : {}),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, text, json };
}
const post = (url: string, body: unknown) => send('POST', url, JSON.stringify(body), 'application/json');

const errorShaped = (v: unknown): boolean => {
  const e = (v as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return typeof e?.code === 'string' && e.code !== '' && typeof e.message === 'string' && e.message !== '';
};

before(async () => {
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  // Without its alert evaluator: an alert it publishes would be a write to the log no request made.
  await stack.start('analytics', { FB_ALERTS: 'false' });
  await stack.start('gateway');
  const state = Buffer.from('{"cash":1}').toString('base64');
  const w = await post('/v1/events', {
    events: [
      { agentId: AGENT, type: 'agent_registered', data: { name: 'Fuzz', team: 'fuzz' } },
      { agentId: AGENT, type: 'decision_made', data: { symbol: 'BTC', action: 'buy', confidence: 0.6, size: 1, situation: [0.1, 0.2] } },
      { agentId: AGENT, type: 'checkpoint_saved', data: { label: 'boot', state } },
    ],
  });
  assert.equal(w.status, 202, w.text);
  const accepted = (w.json as { accepted: { eventId: string }[] }).accepted;
  fixture.decisionId = accepted[1]!.eventId;
  fixture.checkpointId = accepted[2]!.eventId;
  const t = await post('/v1/events', {
    events: [
      { agentId: AGENT, type: 'trade_executed', data: { orderId: 'o1', symbol: 'BTC', side: 'buy', qty: 1, price: 10, decisionId: fixture.decisionId } },
      { agentId: AGENT, type: 'position_closed', data: { symbol: 'BTC', realizedPnl: 5, exitPrice: 15, decisionIds: [fixture.decisionId] } },
    ],
  });
  assert.equal(t.status, 202, t.text);
  const m = await post(`/v1/agents/${AGENT}/memories`, { kind: 'lesson', text: 'fuzzing finds what tests forget', tags: ['fuzz'] });
  assert.equal(m.status, 201, m.text);
  fixture.memoryId = (m.json as { memoryId: string }).memoryId;
  fixture.token = (m.json as { consistencyToken: string }).consistencyToken;
  // Applied before the recall that waits on its token (FB_CONSISTENCY_TIMEOUT_MS is short here, for the fuzzed tokens).
  await stack.caughtUp();
  const r = await post(`/v1/agents/${AGENT}/recall`, { query: 'fuzzing', consistency: (m.json as { consistencyToken: string }).consistencyToken });
  assert.equal(r.status, 200, r.text);
  await stack.caughtUp();
});
after(() => stack.destroy());

// ---- inputs -------------------------------------------------------------------------------------

/** A JSON fragment written as is (numbers JSON.stringify cannot write: 1e309; deep nesting). */
class Raw {
  constructor(readonly text: string) {}
}
const toJson = (v: unknown): string => {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
};

const HOSTILE_TEXT = ['', ' ', '..', '../', '../../etc/passwd', '%', '%00', 'null', 'undefined', '\u0000', 'a\u0000b', '\ud800', 'x\udfff', '\ud83d\ude80',
  'é', '\u202e', '\u0085', '\u007f', '<script>', "' OR '1'='1", '$1', 'x'.repeat(65), 'x'.repeat(300), 'y'.repeat(5000)];
const NUMBER_TEXT = ['Infinity', '-Infinity', '1e309', '-1e309', '-1', '0', '-0', 'NaN', '1.5', '1e3', '0x10', '1_000', '99999999999999999999',
  '9007199254740993', '5e-324', ' 5', '+5', '1e15', '253402300799999', '253402300800000', '[]', 'true'];

const hostileText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_TEXT) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
);
const numberText = fc.constantFrom(...NUMBER_TEXT);
const unknownAgent = fc.stringMatching(/^[a-z0-9]{1,10}$/).map((s) => `nobody-${s}`);

/** Percent-encodes anything, lone surrogates included (as their WTF-8 bytes, which are not UTF-8). */
function enc(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
    if (pair) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else out += encodeURIComponent(s[i]!);
  }
  return out;
}

/** Any JSON value a client might send, hostile ones weighted up. */
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, -0.5, 1e20, [], {}, '', 'a\u0000b', '\ud800', '\ud83d\ude80'),
  fc.constantFrom(...['1e309', '-1e309', '1e400', '9007199254740993', '-0', '1E+2'].map((t) => new Raw(t))),
  fc.integer({ min: 2, max: 3000 }).map((n) => new Raw(`${'['.repeat(n)}${']'.repeat(n)}`)),
  fc.integer({ min: 2, max: 3000 }).map((n) => new Raw(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`)),
  fc.integer({ min: 100, max: 50_000 }).map((n) => 'z'.repeat(n)),
  fc.array(fc.double(), { maxLength: 40 }),
  hostileText,
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.double(), fc.constant(new Raw('1e309'))), { maxKeys: 4 }),
);

const validEvent: fc.Arbitrary<unknown> = fc.tuple(fc.oneof(fc.constant(AGENT), unknownAgent), fc.integer({ min: 0, max: 3 })).map(([agentId, i]) => [
  { agentId, type: 'agent_registered', data: { name: 'Fuzzed' } },
  { agentId, type: 'decision_made', data: { symbol: 'ETH', action: 'hold', confidence: 0.5, situation: [0.3, 0.4] } },
  { agentId, type: 'memory_stored', data: { kind: 'observation', text: 'seen while fuzzing' } },
  { agentId, type: 'checkpoint_saved', data: { label: 'fz', state: 'AAEC' } },
][i]);

/** A value the schema accepts (mostly), to get past the first check and reach the handler. */
function validFor(s: Schema | undefined, name = ''): fc.Arbitrary<unknown> {
  if (!s) return fc.constant({});
  if (name === 'consistency') return fc.constant(fixture.token);
  if (s.properties?.type?.anyOf && s.properties.data) return validEvent; // POST /v1/events: one of a few valid events
  if (s.anyOf) return fc.oneof(...s.anyOf.map((b) => validFor(b, name)));
  if (s.enum) return fc.constantFrom(...s.enum);
  const types = Array.isArray(s.type) ? s.type : [s.type];
  const type = types.find((t) => t !== 'null');
  const nullable = types.includes('null') || s.nullable;
  const arb = ((): fc.Arbitrary<unknown> => {
    switch (type) {
      case 'integer':
        return fc.integer({ min: Math.max(s.minimum ?? -1e6, -1e15), max: Math.min(s.maximum ?? 1e6, 1e15) });
      case 'number':
        return fc.double({ min: Math.max(s.minimum ?? -1e6, -1e6), max: Math.min(s.maximum ?? 1e6, 1e6), noNaN: true, noDefaultInfinity: true });
      case 'boolean':
        return fc.boolean();
      case 'string':
        if (s.format === 'date-time') return fc.constant(new Date().toISOString());
        if (s.pattern?.includes('\\d{4}-')) return fc.constantFrom('2025-01-01T00:00:00Z', '1700000000000', '2030-06-30');
        if (s.pattern?.startsWith('^[A-Za-z0-9_-]')) return fc.oneof(fc.constant(AGENT), unknownAgent);
        if (/memoryId/i.test(name)) return fc.constant(fixture.memoryId);
        return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 16, 16) }).filter((x) => x.length >= (s.minLength ?? 0));
      case 'array':
        return fc.array(validFor(s.items, name), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 4, 4) });
      case 'object': {
        const props = s.properties ?? {};
        const keys = Object.keys(props);
        return fc.record(Object.fromEntries(keys.map((k) => [k, validFor(props[k], k)])), { requiredKeys: (s.required ?? []).filter((k) => keys.includes(k)) });
      }
      default:
        return hostileJson;
    }
  })();
  return nullable ? fc.option(arb, { nil: null }) : arb;
}

/** The schema's shape with hostile values mixed in, fields missing or extra. */
function mutatedFor(s: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!s || depth > 3) return hostileJson;
  if (s.type === 'object' && s.properties) {
    const props = s.properties;
    const keys = Object.keys(props);
    return fc.tuple(
      fc.record(Object.fromEntries(keys.map((k) => [k, fc.oneof({ weight: 3, arbitrary: validFor(props[k], k) }, { weight: 1, arbitrary: mutatedFor(props[k], depth + 1) })])), { requiredKeys: [] }),
      fc.option(fc.tuple(fc.constantFrom('extra', 'agentId', '__proto__x', 'constructor', ''), hostileJson), { freq: 4 }),
    ).map(([o, extra]) => (extra ? { ...o, [extra[0]]: extra[1] } : o));
  }
  if (s.type === 'array' && s.items) return fc.array(fc.oneof(validFor(s.items), mutatedFor(s.items, depth + 1)), { maxLength: 5 });
  return fc.oneof({ weight: 2, arbitrary: validFor(s) }, { weight: 1, arbitrary: hostileJson });
}

interface Req { op: Op; url: string; body?: string; contentType?: string; unknownAgent: boolean }

function requestFor(op: Op): fc.Arbitrary<Req> {
  const known: Record<string, string> = { agentId: AGENT, checkpointId: fixture.checkpointId, memoryId: fixture.memoryId, decisionId: fixture.decisionId };
  const pathArbs = op.params.filter((p) => p.in === 'path').map((p) => fc.oneof(
    { weight: 4, arbitrary: fc.constant(known[p.name] ?? 'x').map((v) => ({ name: p.name, v, unknown: false })) },
    { weight: 2, arbitrary: (p.name === 'agentId' ? unknownAgent : fc.uuid()).map((v) => ({ name: p.name, v, unknown: p.name === 'agentId' })) },
    { weight: 2, arbitrary: fc.oneof(hostileText, numberText).map((v) => ({ name: p.name, v, unknown: false })) },
  ));
  const queryArbs = op.params.filter((p) => p.in === 'query').map((p) => fc.option(fc.oneof(
    { weight: 6, arbitrary: validFor(p.schema, p.name).map((v) => [[p.name, String(v)]]) },
    { weight: 2, arbitrary: numberText.map((v) => [[p.name, v]]) },
    { weight: 1, arbitrary: hostileText.map((v) => [[p.name, v]]) },
    { weight: 1, arbitrary: fc.tuple(numberText, hostileText).map(([a, b]) => [[p.name, a], [p.name, b]]) },
  ), { freq: 2 }));
  const extraQuery = fc.option(fc.tuple(fc.constantFrom('unknown', 'limit[]', 'a[b]', '__proto__', 'x'.repeat(200)), hostileText).map(([k, v]) => [[k, v]]), { freq: 6 });
  const json = (a: fc.Arbitrary<unknown>) => a.map((v) => ({ body: toJson(v), contentType: 'application/json' as string | undefined }));
  const body = op.body
    ? fc.oneof(
      // Valid, so the handler runs; one field made hostile; the shape mangled; not the shape at all; not JSON.
      { weight: 4, arbitrary: json(validFor(op.body)) },
      { weight: 4, arbitrary: json(fc.tuple(validFor(op.body), fc.constantFrom(...Object.keys(op.body.properties ?? { x: 1 })), hostileJson).map(([v, k, h]) => ({ ...(v as object), [k]: h }))) },
      { weight: 3, arbitrary: json(mutatedFor(op.body)) },
      { weight: 1, arbitrary: json(hostileJson) },
      { weight: 1, arbitrary: fc.constantFrom('', '{', 'not json', '{"a":1,}', "{'k':1}", '\u0000', 'null', '"x"', '{"__proto__":{"a":1}}').map((b) => ({ body: b, contentType: 'application/json' as string | undefined })) },
      { weight: 1, arbitrary: fc.tuple(validFor(op.body), fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/octet-stream'))
        .map(([v, contentType]) => ({ body: toJson(v), contentType })) },
    )
    : fc.constant({ body: undefined as string | undefined, contentType: undefined as string | undefined });
  return fc.tuple(fc.tuple(...pathArbs), fc.tuple(...queryArbs), extraQuery, body).map(([path, query, extra, b]) => {
    let url = op.path;
    for (const p of path) url = url.replace(`{${p.name}}`, enc(p.v));
    const pairs = [...query.flatMap((q) => q ?? []), ...(extra ?? [])] as string[][];
    if (pairs.length) url += `?${pairs.map(([k, v]) => `${enc(k!)}=${enc(v!)}`).join('&')}`;
    return { op, url, body: b.body, contentType: b.contentType, unknownAgent: path.some((p) => p.unknown) };
  });
}

// ---- properties ----------------------------------------------------------------------------------

test('gateway fuzz - hostile input on every route: never 5xx, errors in one shape, a rejected request writes nothing, reads create no agent', async (t) => {
  const doc = (await stack.get<Doc>('/docs/json')).body;
  // Every operation but the event stream (GET /v1/feed answers for as long as the client listens; feed.int.test.ts covers it).
  const ops: Op[] = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods)
    .filter(([, o]) => !o.responses?.['200']?.content?.['text/event-stream'])
    .map(([method, o]) => ({
      method: method.toUpperCase(), path, params: o.parameters ?? [], body: o.requestBody?.content['application/json']?.schema,
    })));
  assert.ok(ops.length >= 17, `only ${ops.length} operations in the document`);
  const written = new Set<string>([AGENT]);
  const seen = new Map<string, Map<number, number>>();
  let sent = 0;
  await fc.assert(fc.asyncProperty(fc.oneof(...ops.map(requestFor)), async (req) => {
    sent++;
    const before = await ingressCount();
    const r = await send(req.op.method, req.url, req.body, req.contentType);
    const byStatus = seen.get(`${req.op.method} ${req.op.path}`) ?? new Map<number, number>();
    seen.set(`${req.op.method} ${req.op.path}`, byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1));
    const what = `${req.op.method} ${req.url.slice(0, 300)} ${req.body?.slice(0, 300) ?? ''} -> ${r.status} ${r.text.slice(0, 400)}`;
    assert.ok(r.status < 500, `5xx: ${what}`);
    if (r.status >= 400) {
      assert.ok(errorShaped(r.json), `error body not { error: { code, message } }: ${what}`);
      assert.equal(await ingressCount(), before, `a rejected request wrote to the log: ${what}`);
    }
    const isRead = req.op.method === 'GET' || /\/recall/.test(req.op.path);
    const pathAgent = /^\/v1\/agents\/([^/?]+)/.exec(req.url)?.[1];
    // Unknown: generated as such, and no earlier write of the run created it.
    if (isRead && req.unknownAgent && !written.has(decodeURIComponent(pathAgent ?? ''))) {
      assert.ok(r.status === 400 || r.status === 404, `a read of an unknown agent answered ${r.status}: ${what}`);
      // 404: the agent is unknown, or the URL names no route at all (a `..` segment is resolved by the client).
      const e = (r.json as { error: { code: string; message: string } }).error;
      if (r.status === 404) assert.ok(e.code === 'UNKNOWN_AGENT' || (e.code === 'NOT_FOUND' && e.message.startsWith('no route')), what);
    }
    if (r.status < 300 && !isRead) {
      // A successful write may create an agent: the one in the path, or those of the events.
      if (pathAgent) written.add(decodeURIComponent(pathAgent));
      for (const a of (r.json as { accepted?: { agentId: string }[] }).accepted ?? []) written.add(a.agentId);
    }
  }), RUN_PARAMS);
  for (const [op, byStatus] of [...seen].sort()) t.diagnostic(`${op}: ${[...byStatus].sort().map(([st, n]) => `${st}×${n}`).join(' ')}`);
  assert.ok(sent >= Math.min(200, RUN_PARAMS.numRuns), `only ${sent} requests were sent in the time limit`);
  // No read left an agent behind (a recall of an unknown agent used to create one).
  await stack.caughtUp();
  const agents = await stack.all<{ agentId: string }>('/v1/agents');
  const phantoms = agents.map((a) => a.agentId).filter((a) => !written.has(a));
  assert.deepEqual(phantoms, [], 'agents that only were read exist');
});

test('gateway fuzz - limit=Infinity and other non-finite or out-of-range numbers are 400s naming the parameter and its range', async () => {
  const lists = ['/v1/agents', ...['decisions', 'trades', 'positions', 'checkpoints', 'memories'].map((l) => `/v1/agents/${AGENT}/${l}`)];
  for (const path of lists) {
    for (const v of ['Infinity', '1e309', '-Infinity', 'NaN', '-1', '0', '1001', '1.5']) {
      const r = await send('GET', `${path}?limit=${v}`);
      assert.equal(r.status, 400, `${path}?limit=${v}: ${r.text}`);
      assert.equal((r.json as { error: { code: string } }).error.code, 'VALIDATION_FAILED');
      assert.match((r.json as { error: { message: string } }).error.message, /'limit' must be an integer from 1 to 1000/);
    }
  }
  const k = await post(`/v1/agents/${AGENT}/recall`, { k: '1e309' });
  assert.equal(k.status, 400, k.text);
  assert.match((k.json as { error: { message: string } }).error.message, /'k' must be an integer from 1 to 100/);
  const since = await post(`/v1/agents/${AGENT}/recall/decisions`, { situation: [0, 0], since: 1e20 });
  assert.equal(since.status, 400, since.text);
  assert.match((since.json as { error: { message: string } }).error.message, /'since'/);
});

test('gateway fuzz - reads of an unknown agent are 404 UNKNOWN_AGENT, publish nothing and create no agent; a new agent reads its own write with the token', async () => {
  const ghost = 'ghost-1';
  const before = await ingressCount();
  for (const [method, path, body] of [
    ['GET', `/v1/agents/${ghost}`], ['GET', `/v1/agents/${ghost}/decisions`], ['GET', `/v1/agents/${ghost}/trades`], ['GET', `/v1/agents/${ghost}/positions`],
    ['GET', `/v1/agents/${ghost}/checkpoints`], ['GET', `/v1/agents/${ghost}/checkpoints/${fixture.checkpointId}`], ['GET', `/v1/agents/${ghost}/memories`],
    ['POST', `/v1/agents/${ghost}/recall`, { query: 'anything' }], ['POST', `/v1/agents/${ghost}/recall/decisions`, { situation: [0.1, 0.2] }],
    ['GET', `/v1/agents/${ghost}/decisions/${fixture.decisionId}/context`],
  ] as [string, string, unknown?][]) {
    const r = await send(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? undefined : 'application/json');
    assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
    const e = (r.json as { error: { code: string; message: string } }).error;
    assert.equal(e.code, 'UNKNOWN_AGENT', `${method} ${path}`);
    assert.match(e.message, /record.*event.*consistency/s);
  }
  // The same through MCP: the reading tools fail with the code, as a tool error the model can read.
  const mcp = new Client({ name: 'fuzz', version: '0.0.0' });
  await mcp.connect(new StreamableHTTPClientTransport(new URL('/mcp', stack.gatewayUrl), { requestInit: { headers: { 'Fb-Agent-Id': ghost } } }));
  try {
    for (const [name, args] of [['recall', { query: 'anything' }], ['recall_similar_decisions', { situation: [0.1, 0.2] }], ['decision_context', { decisionId: fixture.decisionId }]] as const) {
      const r = (await mcp.callTool({ name, arguments: args })) as CallToolResult;
      assert.equal(r.isError, true, name);
      assert.match(r.content.map((c) => (c.type === 'text' ? c.text : '')).join(''), /^UNKNOWN_AGENT: /, name);
    }
  } finally {
    await mcp.close();
  }
  assert.equal(await ingressCount(), before, 'a read of an unknown agent published something');
  await stack.caughtUp();
  assert.ok(!(await stack.all<{ agentId: string }>('/v1/agents')).some((a) => a.agentId === ghost), 'the unknown agent now exists');
  // A write creates the agent; a recall carrying its token waits for it, then finds the agent and the memory.
  const w = await post('/v1/agents/newcomer-1/memories', { kind: 'fact', text: 'first words of a new agent' });
  assert.equal(w.status, 201, w.text);
  const { consistencyToken, memoryId } = w.json as { consistencyToken: string; memoryId: string };
  const r = await post('/v1/agents/newcomer-1/recall', { query: 'first words', consistency: consistencyToken });
  assert.equal(r.status, 200, r.text);
  assert.ok((r.json as { hits: { memory: { memoryId: string } }[] }).hits.some((h) => h.memory.memoryId === memoryId));
});

test('gateway fuzz - a memory text with NUL, control characters or lone surrogates is refused (400) and nothing is published', async () => {
  for (const text of ['a\u0000b', 'bell\u0007', '\ud800 alone']) {
    const before = await ingressCount();
    const r = await post(`/v1/agents/${AGENT}/memories`, { kind: 'fact', text });
    assert.equal(r.status, 400, `text ${JSON.stringify(text)}: ${r.status} ${r.text}`);
    assert.ok(errorShaped(r.json));
    assert.equal(await ingressCount(), before);
  }
});
