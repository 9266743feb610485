import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Features } from './market.js';
import { rng } from './rng.js';
import { drawParams, signal, type StrategyParams } from './strategies.js';

/** Neutral features, overridden per case. */
const features = (o: Partial<Features> = {}): Features => ({
  price: 100, r1: 0, r5: 0, r20: 0, vol20: 0.001, z20: 0, rangePos: 0.5, volRatio: 1, breakoutUp: 0, breakoutDown: 0,
  rsi: 50, funding: 0, trend: 0, regime: 'range-bound', situation: [0, 0, 0, 0.5], ...o,
});
const params = (o: Partial<StrategyParams> = {}): StrategyParams => ({
  entry: 1.5, maxVolRatio: 2, minVolRatio: 1, takeProfitVol: 3, stopLossVol: 2.5, maxHoldTicks: 10, notionalUsd: 10000, ...o,
});

test('momentum: rides a confirmed trend, holds otherwise', () => {
  const up = signal('momentum', features({ trend: 2.5, r5: 0.002, r20: 0.01 }), params());
  assert.equal(up.action, 'buy');
  assert.equal(up.confidence, 0.45 + 0.18 * (2.5 - 1.5));
  assert.match(up.why, /ride the uptrend/);
  assert.equal(signal('momentum', features({ trend: -2.5, r5: -0.002 }), params()).action, 'sell');
  // A trend the 5-tick return does not confirm is no entry.
  assert.equal(signal('momentum', features({ trend: 2.5, r5: -0.001 }), params()).action, 'hold');
  const flat = signal('momentum', features({ trend: 0.3 }), params());
  assert.equal(flat.action, 'hold');
  assert.equal(flat.confidence, 0.9, 'clamped to 0.9');
  assert.match(flat.why, /below the 1\.5σ entry bar/);
  assert.equal(signal('momentum', features({ trend: 20, r5: 1 }), params()).confidence, 0.95, 'clamped to 0.95');
});

test('mean reversion: fades stretched prices, never in high volatility', () => {
  assert.equal(signal('mean-reversion', features({ z20: -2 }), params()).action, 'buy');
  assert.equal(signal('mean-reversion', features({ z20: 2 }), params()).action, 'sell');
  const wild = signal('mean-reversion', features({ z20: -3, volRatio: 2.5 }), params());
  assert.deepEqual([wild.action, wild.confidence], ['hold', 0.6]);
  assert.match(wild.why, /unsafe/);
  const fair = signal('mean-reversion', features({ z20: 0.5 }), params());
  assert.equal(fair.action, 'hold');
  assert.equal(fair.confidence, 1 - 0.5 / 3);
});

test('breakout: trades a break with enough volatility only', () => {
  const up = signal('breakout', features({ breakoutUp: 0.001, volRatio: 1.2 }), params());
  assert.equal(up.action, 'buy');
  assert.equal(up.confidence, 0.5 + 0.15 * 0.2 + 40 * 0.001);
  assert.equal(signal('breakout', features({ breakoutDown: 0.002, volRatio: 1.1 }), params()).action, 'sell');
  assert.equal(signal('breakout', features({ breakoutUp: 0.001, volRatio: 0.9 }), params()).action, 'hold');
  const inside = signal('breakout', features({ rangePos: 0.42 }), params());
  assert.deepEqual([inside.action, inside.confidence], ['hold', 0.5]);
  assert.match(inside.why, /at 42%/);
});

test('drawParams: deterministic per stream, within the ranges, breakout has no entry bar', () => {
  assert.deepEqual(drawParams('momentum', rng(5)), drawParams('momentum', rng(5)));
  for (let seed = 0; seed < 200; seed++) {
    const m = drawParams('momentum', rng(seed));
    assert.ok(m.entry >= 1.2 && m.entry <= 1.8);
    assert.ok(m.maxHoldTicks >= 8 && m.maxHoldTicks <= 20 && Number.isInteger(m.maxHoldTicks));
    assert.ok([5000, 10000, 20000].includes(m.notionalUsd));
    assert.ok(m.stopLossVol >= 2 && m.stopLossVol <= 3.5);
    const r = drawParams('mean-reversion', rng(seed));
    assert.ok(r.entry >= 1.5 && r.entry <= 2.1);
    assert.equal(drawParams('breakout', rng(seed)).entry, 0);
  }
});
