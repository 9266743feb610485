import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  batchesOf,
  batchMessage,
  buildEnvelope,
  decodeBatch,
  DEFAULT_BATCH_LIMITS,
  encodeEvent,
  FarmbrainError,
  instantMs,
  isUuidV7,
  MAX_TIME_MS,
  memoryDocument,
  nextBatchLength,
  parseInstant,
  PAYLOAD_DEFAULTS,
  SCHEMA_VERSION,
  type FarmEvent,
} from './index.js';

const source = (seq = 100, now = 1_700_000_000_000) => ({ seq: { next: () => ++seq }, now: () => now });

test('buildEnvelope - fills the envelope and the payload defaults, keeps what is given', () => {
  const e = buildEnvelope({ agentId: 'a-1', type: 'decision_made', data: { symbol: 'BTC', action: 'buy', confidence: 0.5 } }, source());
  assert.ok(isUuidV7(e.eventId));
  assert.deepEqual({ ...e, eventId: '' }, {
    eventId: '', agentId: 'a-1', producerSeq: 101, occurredAt: 1_700_000_000_000, correlationId: '', causationId: '',
    schemaVersion: SCHEMA_VERSION, type: 'decision_made',
    data: { ...PAYLOAD_DEFAULTS.decision_made, situation: [], memoryIds: [], recallIds: [], symbol: 'BTC', action: 'buy', confidence: 0.5 },
  });
  const given = buildEnvelope(
    { agentId: 'a-1', type: 'memory_forgotten', data: { memoryId: 'm' }, eventId: 'id', producerSeq: 7, occurredAt: 5, correlationId: 'c', causationId: 'k' },
    { seq: { next: () => assert.fail('no sequence number is taken when one is given') }, now: () => assert.fail('no clock read when occurredAt is given') },
  );
  assert.deepEqual(given, { eventId: 'id', agentId: 'a-1', producerSeq: 7, occurredAt: 5, correlationId: 'c', causationId: 'k', schemaVersion: SCHEMA_VERSION, type: 'memory_forgotten', data: { memoryId: 'm', reason: '' } });
  // Default arrays are fresh per event.
  const a = buildEnvelope({ agentId: 'a', type: 'decision_made', data: { symbol: 'B', action: 'hold', confidence: 0 } }, source());
  const b = buildEnvelope({ agentId: 'a', type: 'decision_made', data: { symbol: 'B', action: 'hold', confidence: 0 } }, source());
  assert.notEqual((a.data as { memoryIds: string[] }).memoryIds, (b.data as { memoryIds: string[] }).memoryIds);
});

const sized = (n: number) => ({ bytes: new Uint8Array(n) });

test('batching - up to maxEvents, and maxBytes counting 8 bytes of framing per event; an oversized event goes alone', () => {
  assert.deepEqual(DEFAULT_BATCH_LIMITS, { maxEvents: 256, maxBytes: 512 * 1024 });
  assert.equal(nextBatchLength([]), 0);
  assert.deepEqual(batchesOf(Array.from({ length: 600 }, () => sized(10))).map((b) => b.length), [256, 256, 88]);
  const limits = { maxEvents: 10, maxBytes: 100 };
  assert.deepEqual(batchesOf([sized(42), sized(42), sized(1)], limits).map((b) => b.length), [2, 1]); // 50 + 50 fits exactly
  assert.deepEqual(batchesOf([sized(43), sized(42)], limits).map((b) => b.length), [1, 1]);
  assert.deepEqual(batchesOf([sized(500), sized(1)], limits).map((b) => b.length), [1, 1]);
  assert.equal(nextBatchLength([sized(1), sized(1), sized(1)], limits, 2), 1);
});

test('batching - batchesOf keeps order, respects the limits and packs greedily (property)', () => {
  fc.assert(fc.property(
    fc.array(fc.nat(300), { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 700 }),
    (sizes, maxEvents, maxBytes) => {
      const items = sizes.map((n, i) => ({ i, bytes: new Uint8Array(n) }));
      const batches = batchesOf(items, { maxEvents, maxBytes });
      assert.deepEqual(batches.flat().map((x) => x.i), items.map((x) => x.i));
      const cost = (b: readonly { bytes: Uint8Array }[]) => b.reduce((s, x) => s + x.bytes.byteLength + 8, 0);
      batches.forEach((b, k) => {
        assert.ok(b.length >= 1 && b.length <= maxEvents);
        assert.ok(b.length === 1 || cost(b) <= maxBytes);
        const next = batches[k + 1]?.[0];
        if (next) assert.ok(b.length === maxEvents || cost([...b, next]) > maxBytes, 'the next event would have fit');
      });
    },
  ));
});

test('batchMessage - the framed body of the events and its dedupe id', () => {
  const evs = [1, 2, 3].map((n) => buildEnvelope({ agentId: 'a', type: 'memory_forgotten', data: { memoryId: `m${n}` } }, source())) as FarmEvent[];
  const m = batchMessage(evs.map((event) => ({ event, bytes: encodeEvent(event) })));
  assert.deepEqual(decodeBatch(m.body).map((d) => d.event), evs);
  assert.equal(m.msgId, `${evs[0]!.eventId}+3`);
  assert.equal(batchMessage([{ event: evs[1]!, bytes: encodeEvent(evs[1]!) }]).msgId, evs[1]!.eventId);
});

test('parseInstant - epoch ms as number or digits, ISO strings', () => {
  assert.equal(parseInstant('t', 1_700_000_000_000)!.getTime(), 1_700_000_000_000);
  assert.equal(parseInstant('t', '1700000000000')!.getTime(), 1_700_000_000_000);
  assert.equal(parseInstant('t', '2023-11-14T22:13:20.000Z')!.getTime(), 1_700_000_000_000);
  assert.equal(parseInstant('t', '2023-11-14')!.getTime(), Date.UTC(2023, 10, 14));
  assert.equal(parseInstant('t', undefined), undefined);
  assert.equal(parseInstant('t', null), undefined);
  assert.equal(parseInstant('t', ''), undefined);
  assert.equal(parseInstant('t', 0)!.getTime(), 0);
  assert.equal(parseInstant('t', MAX_TIME_MS)!.getTime(), MAX_TIME_MS);
});

test('parseInstant - anything else is the caller\'s error code, naming the input', () => {
  for (const v of ['yesterday', -1, 1.5, Number.NaN, Infinity, MAX_TIME_MS + 1, String(MAX_TIME_MS + 1), '1969-12-31T23:59:59Z', '10000-01-01T00:00:00Z', true as unknown as number]) {
    assert.throws(() => parseInstant('since', v), (e: unknown) => e instanceof FarmbrainError && e.code === 'INVALID_REQUEST' && e.message.startsWith('since='), String(v));
  }
  assert.throws(() => parseInstant('from', 'soon', 'BAD_REQUEST'), { code: 'BAD_REQUEST', message: /^from="soon" is not a time from 1970 to 9999/ });
});

test('instantMs - the unchecked reading: NaN when it is no time, undefined when absent', () => {
  assert.equal(instantMs(5), 5);
  assert.equal(instantMs('0005'), 5);
  assert.equal(instantMs('1970-01-01T00:00:00.005Z'), 5);
  assert.ok(Number.isNaN(instantMs('nope')));
  assert.equal(instantMs(undefined), undefined);
});

test('memoryDocument - text, then the tags on a line of their own', () => {
  assert.equal(memoryDocument('fade the open', []), 'fade the open');
  assert.equal(memoryDocument('fade the open', ['BTC', 'us-open']), 'fade the open\nBTC us-open');
});
