import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Market, HISTORY, SITUATION_FEATURES, SYMBOLS } from './market.js';
import { marketSeed } from './fleet.js';
import { rng } from './rng.js';

const path = (seed: number, steps: number): number[][] => {
  const m = new Market(seed);
  const out: number[][] = [];
  for (let i = 0; i < steps; i++) {
    m.step();
    out.push(m.symbols.map((s) => m.price(s)));
  }
  return out;
};

test('the same seed gives the same price path; another seed another', () => {
  assert.deepEqual(path(42, 500), path(42, 500));
  assert.deepEqual(path(-7, 300), path(-7 >>> 0, 300), 'the seed is taken as an unsigned 32-bit integer');
  assert.notDeepEqual(path(42, 50), path(43, 50));
});

test('seed 42 reproduces the scripts/demo-fleet.mjs market (golden values)', () => {
  const m = new Market(42);
  for (let i = 0; i < 80; i++) m.step();
  assert.deepEqual(m.symbols.map((s) => [s, m.price(s), m.spec(s).regime, m.spec(s).funding]), [
    ['BTC-USD', 65277.06, 'volatile', 4.959],
    ['ETH-USD', 2957.4, 'volatile', -11.222],
    ['SOL-USD', 163.81, 'mean-revert', 2.8],
    ['AAPL', 193.9, 'volatile', 0],
  ]);
  for (let i = 0; i < 1000; i++) m.step();
  // What the old fleet's situation(symbol) answered after 1000 ticks with seed 42.
  assert.deepEqual(m.symbols.map((s) => m.features(s).situation), [
    [-0.3001, 0.6402, -0.1951, 0.2483],
    [0.1015, 0.0304, 0.033, 0.5829],
    [-0.0386, -0.1048, -0.0737, 0.4047],
    [-0.4914, -0.1532, 0, 0.3432],
  ]);
});

test('the market keeps HISTORY prices, ticks count, symbols keep their order, non-perpetuals have no funding', () => {
  const m = new Market(1);
  for (let i = 0; i < HISTORY + 50; i++) m.step();
  assert.equal(m.tick, HISTORY + 50);
  assert.deepEqual(m.symbols, SYMBOLS.map((s) => s.symbol));
  for (const s of m.symbols) assert.equal(m.spec(s).prices.length, HISTORY);
  assert.equal(m.spec('AAPL').funding, 0);
  assert.throws(() => m.price('DOGE-USD'), /unknown symbol/);
});

test('features: a situation vector of SITUATION_FEATURES, bounded; the regime read from the features', () => {
  const m = new Market(7);
  for (let i = 0; i < 600; i++) {
    m.step();
    if (i < 80) continue;
    for (const s of m.symbols) {
      const f = m.features(s);
      assert.equal(f.situation.length, SITUATION_FEATURES.length);
      for (const x of f.situation.slice(0, 3)) assert.ok(x >= -1 && x <= 1, `${s} ${x}`);
      assert.ok(f.rsi >= 0 && f.rsi <= 100);
      assert.ok(f.rangePos >= 0 && f.rangePos <= 1 || f.breakoutUp > 0 || f.breakoutDown > 0);
      assert.equal(f.regime, f.volRatio > 1.6 ? 'volatile' : Math.abs(f.trend) > 1.5 ? 'trending' : 'range-bound');
      assert.equal(f.price, m.price(s));
    }
  }
});

test('marketSeed: session 1 plays the seed itself, later sessions other stretches', () => {
  assert.equal(marketSeed(42, 1), 42);
  assert.equal(marketSeed(-1, 1), 0xffffffff);
  assert.notEqual(marketSeed(42, 2), 42);
  assert.notEqual(marketSeed(42, 2), marketSeed(42, 3));
  assert.equal(marketSeed(42, 2), marketSeed(42, 2));
});

test('rng: uniform draws in range, ints inclusive, gauss pairs', () => {
  const r = rng(3);
  for (let i = 0; i < 1000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
    const k = r.int(2, 4);
    assert.ok(k >= 2 && k <= 4 && Number.isInteger(k));
    assert.ok(Number.isFinite(r.gauss()));
  }
  assert.throws(() => r.pick([]), RangeError);
  const a = rng(9);
  const b = rng(9);
  assert.deepEqual([a.gauss(), a.gauss(), a.next()], [b.gauss(), b.gauss(), b.next()]);
});
