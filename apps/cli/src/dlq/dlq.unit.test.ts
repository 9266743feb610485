import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { encodeEvent, frameBatch, type FarmEvent } from '@farmbrain/contracts';
import { mergeNewest } from '../commands/dlq.js';
import { palette } from '../output.js';
import { GatewayClient, type DeadLetter } from './client.js';
import { decodeStored, renderList, renderShow } from './render.js';

const letter = (id: string, at: string, over: Partial<DeadLetter> = {}): DeadLetter => ({
  id, source: id.startsWith('p') ? 'projection' : 'ingest', projection: id.startsWith('p') ? 'tiering.v1' : '', agentId: 'a-1', eventId: null,
  eventType: 'memory_updated', code: 'UNKNOWN_MEMORY', reason: 'memory m-1 does not exist', sqlstate: null, deadLetteredAt: at, replayedAt: null, event: '', ...over,
});

const event = {
  eventId: '0193a000-0000-7000-8000-000000000001', agentId: 'a-1', producerSeq: 1, occurredAt: 1_700_000_000_000, correlationId: '', causationId: '',
  schemaVersion: 1, type: 'agent_registered', data: { name: 'A', team: '', strategy: '', config: {} },
} as unknown as FarmEvent;

test('dlq - both sources merge newest first, cut at the limit', () => {
  const r = mergeNewest([
    { items: [letter('p:3', '2026-12-01T10:03:00.000Z'), letter('p:1', '2026-12-01T10:01:00.000Z')], nextCursor: null },
    { items: [letter('i:9', '2026-12-01T10:02:00.000Z'), letter('i:10', '2026-12-01T10:04:00.000Z')], nextCursor: null },
  ], 3);
  assert.deepEqual(r.items.map((d) => d.id), ['i:10', 'p:3', 'i:9']);
  assert.equal(r.more, true);
  assert.equal(mergeNewest([{ items: [letter('p:1', 'x')], nextCursor: null }], 5).more, false);
  assert.equal(mergeNewest([{ items: [letter('p:1', 'x')], nextCursor: 'p:1' }], 5).more, true);
});

test('dlq - a stored event decodes: one event, a whole rejected batch, or null', () => {
  const one = Buffer.from(encodeEvent(event)).toString('base64');
  assert.equal((decodeStored(one) as FarmEvent).eventId, event.eventId);
  const batch = Buffer.from(frameBatch([encodeEvent(event), encodeEvent(event)])).toString('base64');
  const decoded = decodeStored(batch);
  assert.ok(Array.isArray(decoded) ? decoded.length === 2 : (decoded as FarmEvent).eventId !== event.eventId, 'a batch is not taken for its first event');
  assert.equal(decodeStored(''), null);
  assert.equal(decodeStored(Buffer.from([0xff, 0xff, 0xff]).toString('base64')), null);
  const shown = renderShow(letter('p:4', '2026-12-01T10:03:00.000Z', { event: one, eventId: event.eventId }), palette(false));
  assert.match(shown, /^id\s+p:4$/m);
  assert.match(shown, /"eventId": "0193a000-0000-7000-8000-000000000001"/);
  assert.match(shown, /once the cause is fixed: farmbrain dlq replay p:4/);
  assert.match(renderShow(letter('i:1', 'x'), palette(false)), /does not decode: it cannot be replayed/);
});

test('dlq - the list table, and an empty list', () => {
  const text = renderList([letter('p:3', '2026-12-01T10:03:00.000Z', { replayedAt: '2026-12-01T10:05:00.000Z' })], false, palette(false));
  assert.match(text, /^ID\s+FROM\s+AGENT\s+TYPE\s+CODE\s+DEAD-LETTERED\s+REPLAYED\s+REASON$/m);
  assert.match(text, /^p:3\s+tiering\.v1\s+a-1\s+memory_updated\s+UNKNOWN_MEMORY\s+2026-12-01 10:03:00\s+2026-12-01 10:05:00\s+memory m-1 does not exist$/m);
  assert.equal(renderList([], false, palette(false)), 'no dead letters\n');
});

test('dlq - the gateway client: query string, error bodies become their codes, no answer says how to fix it', async () => {
  const seen: string[] = [];
  const fake = (async (url: string | URL | Request, init?: RequestInit) => {
    seen.push(`${init?.method} ${String(url)}`);
    if (String(url).includes('/replay')) return new Response(JSON.stringify({ error: { code: 'ALREADY_REPLAYED', message: 'was replayed' } }), { status: 409 });
    if (String(url).endsWith('/v1/dead-letters/p%3A1')) return new Response('<html>', { status: 502 });
    return new Response(JSON.stringify({ items: [], nextCursor: null }), { status: 200 });
  }) as typeof fetch;
  const gw = new GatewayClient('http://gw:1', fake);
  await gw.list({ source: 'ingest', agentId: 'a-1', code: 'X', limit: 5 });
  assert.equal(seen[0], 'GET http://gw:1/v1/dead-letters?source=ingest&limit=5&agentId=a-1&code=X');
  await assert.rejects(gw.replay('p:1'), { code: 'ALREADY_REPLAYED', message: 'was replayed' });
  await assert.rejects(gw.get('p:1'), { code: 'SERVICE_UNAVAILABLE', message: /answered 502 <html>: is that a farmbrain gateway\?/ });
  // A port nothing listens on.
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  const down = new GatewayClient(`http://127.0.0.1:${port}`);
  await assert.rejects(down.list({ source: 'projection', limit: 1 }), {
    code: 'SERVICE_UNAVAILABLE', message: /the gateway does not answer at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): start the stack \(farmbrain start\), or point --gateway or FB_GATEWAY_URL/,
  });
});
