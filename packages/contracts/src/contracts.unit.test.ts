import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeBatch,
  DecodeError,
  defaultEventLimits,
  encodeBatch,
  encodeEvent,
  frameBatch,
  HybridSequence,
  names,
  newEventId,
  partitionOf,
  SCHEMA_VERSION,
  validateEvent,
  type FarmEvent,
} from './index.js';

const meta = (over: Partial<FarmEvent> = {}) => ({
  eventId: newEventId(), agentId: 'a-1', producerSeq: 7, occurredAt: 1_700_000_000_000, correlationId: 'c', causationId: '',
  schemaVersion: SCHEMA_VERSION, ...over,
});

const samples: FarmEvent[] = [
  { ...meta(), type: 'agent_registered', data: { name: 'A', team: 't', strategy: 's', config: { k: [1, 2] } } },
  { ...meta(), type: 'decision_made', data: { symbol: 'BTC', action: 'sell', size: 2, confidence: 0.25, rationale: 'why', situation: [0.5, -1.25], memoryIds: ['m1'], recallIds: ['r1'] } },
  { ...meta(), type: 'trade_executed', data: { orderId: 'o', symbol: 'BTC', side: 'buy', qty: 1.5, price: 100.25, fees: 0.5, decisionId: 'd' } },
  { ...meta(), type: 'position_closed', data: { symbol: 'BTC', realizedPnl: -12.5, decisionIds: ['d'], exitPrice: 99 } },
  { ...meta(), type: 'checkpoint_saved', data: { label: 'x', state: new Uint8Array([0, 1, 255]) } },
  { ...meta(), type: 'memory_stored', data: { memoryId: 'm', kind: 'lesson', text: 't', tags: ['a'], importance: 0.5, embedding: [0.5, 0.25], scope: 'team', scopeId: 'red', expiresAt: 1_800_000_000_000, sourceEventIds: ['e'], situation: [1], embeddingModel: 'client' } },
  { ...meta(), type: 'memory_updated', data: { memoryId: 'm', text: 'new', tags: [], replaceTags: true, importance: 0.9, embedding: [], expiresAt: 0, embeddingModel: '' } },
  { ...meta(), type: 'memory_recalled', data: { queryText: 'btc breakout', queryVector: [0.5], filters: { kinds: ['lesson'] }, k: 5, hits: [{ memoryId: 'm', version: 2, score: 0.25, tier: 'hot' }], embeddingModel: 'farmbrain/hash-v1', latencyMs: 4.25 } },
  { ...meta(), type: 'memory_forgotten', data: { memoryId: 'm', reason: 'stale' } },
  { ...meta(), type: 'agent_state_changed', data: { status: 'paused', reason: 'risk', config: { max: 1 } } },
];

test('contracts - every event type survives an encode/decode round trip', () => {
  const decoded = decodeBatch(encodeBatch(samples));
  assert.equal(decoded.length, samples.length);
  decoded.forEach((d, i) => {
    const want = samples[i]!;
    const got = d.event!;
    if (want.type === 'checkpoint_saved' && got.type === 'checkpoint_saved') {
      assert.deepEqual([...got.data.state], [...want.data.state]);
      assert.deepEqual({ ...got, data: { ...got.data, state: null } }, { ...want, data: { ...want.data, state: null } });
    } else assert.deepEqual(got, want);
  });
});

test('contracts - framing pre-encoded events gives the same bytes as encoding the batch', () => {
  assert.ok(Buffer.from(frameBatch(samples.map(encodeEvent))).equals(encodeBatch(samples)));
  const big = { ...samples[4]!, data: { label: 'big', state: new Uint8Array(300_000) } } as FarmEvent;
  assert.ok(Buffer.from(frameBatch([big, samples[0]!].map(encodeEvent))).equals(encodeBatch([big, samples[0]!])));
});

test('contracts - bytes that are not an EventBatch raise DecodeError', () => {
  assert.throws(() => decodeBatch(new Uint8Array([0xff, 0xff, 0xff, 0x0f])), DecodeError);
  const noPayload = decodeBatch(frameBatch([new Uint8Array([0x0a, 0x01, 0x78])]));
  assert.equal(noPayload[0]!.event, undefined);
  assert.equal(noPayload[0]!.error?.code, 'DECODE_ERROR');
});

test('contracts - validation accepts good events and names every bad field', () => {
  const ctx = { limits: defaultEventLimits(), now: 1_700_000_000_000 };
  for (const s of samples) assert.deepEqual(validateEvent(s, ctx), [], s.type);
  const bad = { ...samples[1]!, eventId: 'nope', occurredAt: ctx.now + 3_600_000, data: { ...samples[1]!.data, confidence: 1.5, symbol: '' } } as FarmEvent;
  const codes = validateEvent(bad, ctx).map((i) => `${i.code}:${i.field}`).sort();
  assert.deepEqual(codes, ['CLOCK_SKEW:occurredAt', 'INVALID_FIELD:eventId', 'MISSING_FIELD:data.symbol', 'OUT_OF_RANGE:data.confidence']);
  assert.deepEqual(validateEvent(samples[0]!, { ...ctx, subjectAgentId: 'other' }).map((i) => i.code), ['AGENT_MISMATCH']);
  const huge = { ...samples[4]!, data: { label: 'x', state: new Uint8Array(ctx.limits.maxCheckpointBytes + 1) } } as FarmEvent;
  assert.deepEqual(validateEvent(huge, ctx).map((i) => i.code), ['TOO_LARGE']);
});

test('contracts - partitions are stable and spread agents', () => {
  assert.equal(partitionOf('agent-1', 8), partitionOf('agent-1', 8));
  const used = new Set(Array.from({ length: 200 }, (_, i) => partitionOf(`agent-${i}`, 8)));
  assert.equal(used.size, 8);
  const n = names('fb', 8);
  assert.equal(n.ingressSubject('x'), `fb.in.${partitionOf('x', 8)}.x`);
  assert.throws(() => names('Bad-NS', 8), /namespace/);
});

test('contracts - the hybrid sequence increases even when the clock stalls or goes back', () => {
  let t = 1000;
  const s = new HybridSequence(() => t);
  const a = s.next();
  const b = s.next();
  t = 500;
  const c = s.next();
  t = 5000;
  const d = s.next();
  assert.deepEqual([a, b, c, d], [1000, 1001, 1002, 5000]);
});
