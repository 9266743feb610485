import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zeroCounters, type Counters } from './accumulate.js';
import { decisionQuality, differenceBand, learningProgress, memoryEfficiency, MIN_LEARNING_SAMPLES, wilson } from './indicators.js';

const scored = (n: number, wins: number, brierSum = n * 0.25): Counters => ({ ...zeroCounters(), scored: n, scoredWins: wins, brierSum });

test('indicators - a lucky streak on few decisions is not learning; the same rates on many are', () => {
  const lucky = learningProgress(scored(30, 15), scored(30, 20), 3_600_000);
  assert.equal(lucky.verdict, 'flat', `band ${JSON.stringify(lucky.band)}`);
  assert.ok(lucky.band!.lo < 0 && lucky.band!.hi > 0);
  const real = learningProgress(scored(600, 300), scored(600, 400), 3_600_000);
  assert.equal(real.verdict, 'improving');
  assert.ok(real.delta! > 0.16 && real.delta! < 0.17);
  assert.equal(learningProgress(scored(600, 400), scored(600, 300), 3_600_000).verdict, 'worsening');
  const few = learningProgress(scored(MIN_LEARNING_SAMPLES - 1, 0), scored(200, 200), 3_600_000);
  assert.equal(few.verdict, 'insufficient', 'too few samples before: no verdict, however large the change');
  assert.equal(learningProgress(scored(0, 0), scored(0, 0), 1).band, null);
});

test('indicators - the 90 % bands hold their point estimates and stay within [0, 1] / [-1, 1]', () => {
  for (const [k, n] of [[0, 1], [1, 1], [3, 10], [50, 100], [0, 40], [40, 40]] as const) {
    const w = wilson(k, n);
    assert.ok(w.lo >= 0 && w.hi <= 1 && w.lo <= k / n + 1e-12 && w.hi >= k / n - 1e-12, `${k}/${n}`);
  }
  const d = differenceBand(10, 40, 30, 40);
  assert.ok(d.lo < 0.5 && d.hi > 0.5 && d.lo > 0 && d.hi <= 1);
});

test('indicators - decision quality: calibration 1 for perfect forecasts, 0 at or below coin-flip; P&L efficiency from gains and losses', () => {
  assert.equal(decisionQuality({ ...scored(10, 10, 0), pnl: 100, pnlAbs: 100, decisionsBuy: 10 }).score, 1);
  const coin = decisionQuality({ ...scored(10, 5, 2.5), pnl: -50, pnlAbs: 50, decisionsBuy: 5 });
  assert.deepEqual([coin.calibration, coin.pnlEfficiency, coin.score, coin.pnlPerDecision], [0, 0, 0, -10]);
  assert.equal(decisionQuality(zeroCounters()).score, null);
  assert.equal(decisionQuality(scored(4, 0, 4)).calibration, 0, 'worse than coin-flip clips to 0');
});

test('indicators - memory efficiency: hot share of hits, bytes per useful recall, wins among decisions citing memories', () => {
  const m = memoryEfficiency({ ...zeroCounters(), recalls: 10, recallHits: 40, hotHits: 30, usefulRecalls: 4, citedScored: 8, citedWins: 6 }, 4000);
  assert.deepEqual([m.hotHitRatio, m.usefulRecallRatio, m.bytesPerUsefulRecall, m.citedWinShare], [0.75, 0.4, 1000, 0.75]);
  assert.equal(memoryEfficiency(zeroCounters(), null).bytesPerUsefulRecall, null);
});
