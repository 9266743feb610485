import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { TestStack } from '@farmbrain/testing';

/**
 * The OpenAPI document the gateway serves is valid OpenAPI, and complete: every
 * operation documents a typed 2xx body and its errors in the one error shape.
 */
const stack = new TestStack();

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  additionalProperties?: boolean | Schema;
  enum?: unknown[];
  description?: string;
  nullable?: boolean;
}
interface Operation {
  parameters?: { in: string; name: string }[];
  responses: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

let doc: Doc;

before(async () => {
  await stack.connect();
  await stack.start('tiering');
  await stack.start('gateway');
  const r = await stack.get<Doc>('/docs/json');
  assert.equal(r.status, 200);
  doc = r.body;
});
after(() => stack.destroy());

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);
const operations = () =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).filter(([m]) => METHODS.has(m)).map(([method, op]) => ({ id: `${method.toUpperCase()} ${path}`, op })));
const bodyOf = (r: Operation['responses'][string] | undefined): Schema | undefined => r?.content?.['application/json']?.schema;

/** Where a schema says nothing about a value (`{}`), outside free-form JSON objects (config, filters, snapshots). */
function emptySpots(s: Schema | undefined, at: string, out: string[] = []): string[] {
  if (!s) {
    out.push(at);
    return out;
  }
  const typed = s.type !== undefined || s.enum !== undefined || s.anyOf || s.oneOf || s.allOf || s.nullable;
  if (!typed) out.push(at);
  if (s.type === 'object' && !s.properties && s.additionalProperties === undefined) out.push(`${at} (object without properties)`);
  for (const [k, v] of Object.entries(s.properties ?? {})) emptySpots(v, `${at}.${k}`, out);
  if (s.items) emptySpots(s.items, `${at}[]`, out);
  for (const b of [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])]) emptySpots(b, `${at}|`, out);
  return out;
}

const isErrorBody = (s: Schema | undefined): boolean => {
  const e = s?.properties?.error;
  return s?.type === 'object' && (s.required ?? []).includes('error') && e?.type === 'object'
    && e.properties?.code?.type === 'string' && e.properties?.message?.type === 'string'
    && ['code', 'message'].every((k) => (e.required ?? []).includes(k));
};

test('openapi - the document at /docs/json is valid OpenAPI', async () => {
  await SwaggerParser.validate(structuredClone(doc) as never);
  assert.match(doc.openapi, /^3\./);
});

test('openapi - every route is documented, and the MCP, docs and dashboard routes are not', () => {
  const ids = operations().map((o) => o.id).sort();
  for (const want of [
    'GET /healthz', 'GET /readyz', 'GET /v1/agents', 'GET /v1/agents/{agentId}', 'GET /v1/agents/{agentId}/decisions',
    'GET /v1/agents/{agentId}/trades', 'GET /v1/agents/{agentId}/positions', 'GET /v1/agents/{agentId}/checkpoints',
    'GET /v1/agents/{agentId}/checkpoints/{checkpointId}', 'GET /v1/agents/{agentId}/memories', 'POST /v1/agents/{agentId}/memories',
    'PATCH /v1/agents/{agentId}/memories/{memoryId}', 'DELETE /v1/agents/{agentId}/memories/{memoryId}', 'POST /v1/agents/{agentId}/recall',
    'POST /v1/agents/{agentId}/recall/decisions', 'GET /v1/agents/{agentId}/decisions/{decisionId}/context', 'POST /v1/events',
    'GET /v1/analytics/overview', 'GET /v1/analytics/rollups', 'GET /v1/analytics/calibration', 'GET /v1/analytics/indicators',
    'GET /v1/analytics/agents', 'GET /v1/analytics/utilization', 'GET /v1/alerts', 'GET /v1/agents/{agentId}/memory-health', 'GET /v1/feed',
  ]) assert.ok(ids.includes(want), `${want} is not documented; documented: ${ids.join(', ')}`);
  assert.ok(!ids.some((id) => id.includes('/mcp') || id.includes('/docs') || id.includes('*') || id === 'GET /'), `hidden routes are documented: ${ids.join(', ')}`);
});

test('openapi - every operation has a typed 2xx body and documents its errors with the error body', () => {
  for (const { id, op } of operations()) {
    const ok = Object.entries(op.responses).filter(([status]) => /^2\d\d$/.test(status));
    assert.ok(ok.length > 0, `${id} documents no 2xx response`);
    for (const [status, r] of ok) {
      const stream = r.content?.['text/event-stream']?.schema;
      if (stream) {
        // Server-Sent Events: a text stream, described (frames, ids, events) rather than typed field by field.
        assert.equal(stream.type, 'string', `${id} ${status}: the event stream is not text`);
        assert.match(stream.description ?? '', /event: decision/, `${id} ${status}: the event stream's frames are not described`);
        continue;
      }
      const body = bodyOf(r);
      assert.ok(body && (body.properties || body.items), `${id} ${status}: the body schema is empty`);
      assert.deepEqual(emptySpots(body, 'body'), [], `${id} ${status}: untyped parts`);
    }
    const errors = Object.entries(op.responses).filter(([status]) => /^[45]\d\d$/.test(status) && isErrorBody(bodyOf(op.responses[status])));
    assert.ok(errors.length > 0, `${id} documents no error response with the error body`);
  }
});

test('openapi - agent-scoped reads document 404 (UNKNOWN_AGENT) and every route with input documents 400', () => {
  for (const { id, op } of operations()) {
    const hasInput = /\{|POST|PATCH|DELETE/.test(id) || (op.parameters ?? []).length > 0;
    if (hasInput) assert.ok(isErrorBody(bodyOf(op.responses['400'])), `${id}: no 400 error body`);
    if (id.startsWith('GET /v1/agents/{agentId}') || /recall/.test(id)) assert.ok(isErrorBody(bodyOf(op.responses['404'])), `${id}: no 404 error body`);
  }
});
