import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvent } from '@farmbrain/testing';
import { evolvePositions, type PositionEvent } from './positions.js';

let seq = 0;
const trade = (side: 'buy' | 'sell', qty: number, price: number, decisionId = '') =>
  makeEvent('a', 'trade_executed', { orderId: `o${seq}`, symbol: 'BTC', side, qty, price, fees: 1, decisionId }, { producerSeq: ++seq, occurredAt: 1000 + seq }) as PositionEvent;
const close = (pnl: number) =>
  makeEvent('a', 'position_closed', { symbol: 'BTC', realizedPnl: pnl, decisionIds: ['dx'], exitPrice: 110 }, { producerSeq: ++seq, occurredAt: 1000 + seq }) as PositionEvent;

test('positions - trades build one open position with a weighted average price', () => {
  const { rows } = evolvePositions([], [trade('buy', 1, 100, 'd1'), trade('buy', 3, 120, 'd2'), trade('sell', 2, 130)]);
  assert.equal(rows.length, 1);
  const p = rows[0]!;
  assert.equal(p.status, 'open');
  assert.equal(p.qty, 2);
  assert.equal(p.avgPrice, 115);
  assert.equal(p.fees, 3);
  assert.equal(p.tradeCount, 3);
  assert.deepEqual(p.decisionIds, ['d1', 'd2']);
});

test('positions - a close ends the position and the next trade opens a new one', () => {
  const first = trade('buy', 1, 100, 'd1');
  const c = close(10);
  const again = trade('sell', 2, 90, 'd3');
  const { rows, closedBy } = evolvePositions([], [first, c, again]);
  assert.deepEqual(rows.map((r) => [r.positionId, r.status, r.qty]), [[first.eventId, 'closed', 1], [again.eventId, 'open', -2]]);
  assert.equal(rows[0]!.realizedPnl, 10);
  assert.deepEqual(rows[0]!.decisionIds, ['d1', 'dx']);
  assert.equal(closedBy.get(c.eventId), first.eventId);
});

test('positions - a close with no open position changes nothing', () => {
  const { rows, closedBy } = evolvePositions([], [close(5)]);
  assert.equal(rows.length, 0);
  assert.equal(closedBy.size, 0);
});
