import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvent } from '@farmbrain/testing';
import { buildHotOps } from './hotStore.js';

const d = (seq: number, id?: string) =>
  makeEvent('a', 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence: 0.5, rationale: '', situation: [], memoryIds: [] }, { producerSeq: seq, occurredAt: seq, ...(id ? { eventId: id } : {}) });

test('tiering - a duplicate event in a batch adds no second hot decision', () => {
  const a = d(1);
  const b = d(2);
  const ops = buildHotOps([a, b, { ...a }], { positions: new Map(), memories: new Map() }).get('a')!;
  assert.equal(ops.filter((o) => o.t === 'dec').length, 2);
  assert.deepEqual(ops.map((o) => o.s), ['1', '1', '2', '2']);
});

test('tiering - the positions snapshot follows the last position event of an agent', () => {
  const t = makeEvent('a', 'trade_executed', { orderId: 'o', symbol: 'BTC', side: 'buy', qty: 1, price: 1, fees: 0, decisionId: '' }, { producerSeq: 5 });
  const ops = buildHotOps([t, d(6)], { positions: new Map([['a', { BTC: '{"qty":1}' }]]), memories: new Map() }).get('a')!;
  const pos = ops.find((o) => o.t === 'pos');
  assert.deepEqual(pos, { s: '5', t: 'pos', f: { BTC: '{"qty":1}' } });
});
