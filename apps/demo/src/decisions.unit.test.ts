import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decidesNow, entryDecision, exitCheck, holdConfidence, workingMemories, type OwnMemory } from './decisions.js';
import { alertMove } from './riskDesk.js';
import { closeMemory, isNotable, observationMemory } from './memoryTexts.js';
import type { Features } from './market.js';
import type { StrategyParams } from './strategies.js';
import { fill, moveOf, realizedPnl, type Position } from './trading.js';

const params: StrategyParams = { entry: 1.5, maxVolRatio: 2, minVolRatio: 1, takeProfitVol: 3, stopLossVol: 2, maxHoldTicks: 10, notionalUsd: 10000 };
const pos = (o: Partial<Position> = {}): Position => ({
  side: 'long', qty: 2, entryPrice: 100, entryFees: 0.1, entryTick: 5, entryVol: 0.01, situation: [0, 0, 0, 0.5],
  regime: 'trending', why: 'a reason', ids: ['d', 't'], decisionIds: ['d'], ...o,
});
const mem = (memoryId: string, kind: OwnMemory['kind'], tags: string[], importance: number, tick: number): OwnMemory => ({ memoryId, kind, tags, importance, tick });
const features = (o: Partial<Features>): Features => ({
  price: 100, r1: 0, r5: 0, r20: 0, vol20: 0.001, z20: 0, rangePos: 0.5, volRatio: 1, breakoutUp: 0, breakoutDown: 0,
  rsi: 50, funding: 0, trend: 0, regime: 'range-bound', situation: [0, 0, 0, 0.5], ...o,
});

test('decidesNow: a signal always, a flat hold every 4th tick per symbol', () => {
  const hold = { action: 'hold' as const, confidence: 0.5, why: '' };
  assert.equal(decidesNow({ ...hold, action: 'buy' }, 3, 0), true);
  assert.deepEqual([1, 2, 3, 4, 5, 8].map((t) => decidesNow(hold, t, 0)), [false, false, false, true, false, true]);
  assert.equal(decidesNow(hold, 3, 1), true, 'staggered by the symbol index');
});

test('workingMemories: this symbol\'s lessons and reflections, most important (then newest) first, at most 3', () => {
  const ms = [
    mem('a', 'lesson', ['BTC-USD', 'loss'], 0.5, 1),
    mem('b', 'observation', ['BTC-USD'], 0.9, 2),
    mem('c', 'reflection', ['BTC-USD', 'win'], 0.7, 3),
    mem('d', 'lesson', ['ETH-USD', 'loss'], 1, 4),
    mem('e', 'lesson', ['BTC-USD', 'loss'], 0.5, 5),
    mem('f', 'lesson', ['BTC-USD', 'loss'], 0.2, 6),
  ];
  assert.deepEqual(workingMemories(ms, 'BTC-USD').map((m) => m.memoryId), ['c', 'e', 'a']);
});

test('entryDecision: losing lessons halve the size, clean wins raise confidence, holds have no size', () => {
  const buy = { action: 'buy' as const, confidence: 0.6, why: 'up' };
  const plain = entryDecision(buy, [], 'ETH-USD', params, 2000, { qtyDecimals: 3 });
  assert.deepEqual(plain, { action: 'buy', confidence: 0.6, why: 'up', qty: 5.5 });
  const losses = [mem('a', 'lesson', ['ETH-USD', 'loss'], 0.5, 1), mem('b', 'lesson', ['ETH-USD', 'loss'], 0.5, 2)];
  const cautious = entryDecision(buy, losses, 'ETH-USD', params, 2000, { qtyDecimals: 3 });
  assert.equal(cautious.confidence, 0.6 * 0.8);
  assert.equal(cautious.qty, Math.round((10000 * 0.5 * (0.5 + 0.48)) / 2000 * 1000) / 1000);
  assert.match(cautious.why, /2 recent losing lessons on ETH-USD: half size/);
  const wins = entryDecision(buy, [mem('c', 'reflection', ['ETH-USD', 'win'], 0.5, 1)], 'ETH-USD', params, 2000, { qtyDecimals: 3 });
  assert.equal(wins.confidence, 0.6 * 1.1);
  assert.match(wins.why, /recent ETH-USD trades worked/);
  const mixed = entryDecision(buy, [losses[0]!, mem('c', 'reflection', ['ETH-USD', 'win'], 0.5, 1)], 'ETH-USD', params, 2000, { qtyDecimals: 3 });
  assert.equal(mixed.confidence, 0.6, 'one loss among wins changes nothing');
  assert.equal(entryDecision(buy, [], 'AAPL', { notionalUsd: 5000 }, 1e9, { qtyDecimals: 0 }).qty, 1, 'whole shares: at least 1');
  const hold = entryDecision({ action: 'hold', confidence: 0.7, why: 'flat' }, losses, 'ETH-USD', params, 2000, { qtyDecimals: 3 });
  assert.deepEqual(hold, { action: 'hold', confidence: 0.7, why: 'flat', qty: 0 });
});

test('exitCheck: take profit, stop loss, back at the mean, time, or keep', () => {
  const p = pos();
  assert.equal(exitCheck(p, { price: 103.1, z20: 1 }, params, 'momentum', 6).reason, 'take-profit');
  assert.equal(exitCheck(p, { price: 97.9, z20: 1 }, params, 'momentum', 6).reason, 'stop-loss');
  assert.equal(exitCheck(pos({ side: 'short' }), { price: 97, z20: 1 }, params, 'momentum', 6).reason, 'take-profit');
  assert.equal(exitCheck(p, { price: 100.5, z20: 0.1 }, params, 'mean-reversion', 6).reason, 'reverted-to-mean');
  assert.equal(exitCheck(p, { price: 100.5, z20: -0.1 }, params, 'mean-reversion', 6).reason, null);
  assert.equal(exitCheck(p, { price: 100.5, z20: 0.1 }, params, 'momentum', 15).reason, 'time-exit');
  const keep = exitCheck(p, { price: 101, z20: 0.1 }, params, 'momentum', 6);
  assert.equal(keep.reason, null);
  assert.ok(Math.abs(keep.move - 0.01) < 1e-12);
  assert.equal(holdConfidence(keep.move, p, params), 0.667);
  assert.equal(holdConfidence(-1, p, params), 0.1);
});

test('fills and P&L: slippage against the taker, fees on both legs', () => {
  assert.deepEqual(fill({ slipBps: 1, feeRate: 0.0004 }, 64000, 'buy', 0.1), { price: 64006.4, fees: 2.5603 });
  assert.deepEqual(fill({ slipBps: 1, feeRate: 0.0004 }, 64000, 'sell', 0.1), { price: 63993.6, fees: 2.5597 });
  assert.equal(realizedPnl(pos(), { price: 110, fees: 0.2 }), 19.7);
  assert.equal(realizedPnl(pos({ side: 'short' }), { price: 110, fees: 0.2 }), -20.3);
  assert.ok(Math.abs(moveOf(pos({ side: 'short' }), 90) - 0.1) < 1e-12);
});

test('memories: lesson after a loss, reflection after a win, importance by size; notable observations', () => {
  const loss = closeMemory({ symbol: 'SOL-USD', pos: pos(), reason: 'stop-loss', pnl: -10, notional: 1000, held: 4, strategy: 'momentum' });
  assert.equal(loss.kind, 'lesson');
  assert.deepEqual(loss.tags, ['SOL-USD', 'trending', 'loss', 'momentum', 'stop-loss']);
  assert.equal(loss.importance, 0.55);
  assert.match(loss.text, /^Lost \$10\.00 \(-1\.00%\).*reversed fast/);
  const win = closeMemory({ symbol: 'SOL-USD', pos: pos(), reason: 'time-exit', pnl: 100, notional: 1000, held: 4, strategy: 'breakout' });
  assert.deepEqual([win.kind, win.importance], ['reflection', 1]);
  assert.equal(isNotable(features({ volRatio: 1.8 })), true);
  assert.equal(isNotable(features({ z20: -2.5 })), true);
  assert.equal(isNotable(features({})), false);
  const obs = observationMemory('BTC-USD', features({ regime: 'trending', trend: -2 }), true);
  assert.match(obs.text, /^BTC-USD looks trending down:.*funding 0\.0 bps/);
  assert.doesNotMatch(observationMemory('AAPL', features({}), false).text, /funding/);
});

test('alertMove: raise at 1.7x, update each 0.3x higher, withdraw below 1.2x', () => {
  assert.equal(alertMove(1.69, undefined), null);
  assert.equal(alertMove(1.7, undefined), 'raise');
  assert.equal(alertMove(2.0, 1.7), 'update');
  assert.equal(alertMove(1.9, 1.7), null);
  assert.equal(alertMove(1.19, 1.7), 'withdraw');
  assert.equal(alertMove(1.3, 1.7), null);
});
