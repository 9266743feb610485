import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRAIN_MS, grainFor } from '@farmbrain/analytics';
import { MAX_UTILIZATION_POINTS, utilizationStep, windowBuckets, WINDOWS, WINDOW_NAMES } from './analyticsReads.js';

test('analytics reads - a window is whole aligned buckets ending with the one holding now, spanning exactly the window', () => {
  const now = Date.UTC(2026, 2, 3, 10, 17, 42, 5);
  for (const w of WINDOW_NAMES) {
    const { grain, from, to } = windowBuckets(WINDOWS[w], now);
    const g = GRAIN_MS[grain];
    assert.equal(grain, grainFor(WINDOWS[w]), w);
    assert.equal(to - from, WINDOWS[w], w);
    assert.equal(from % g, 0, w);
    assert.ok(to - g <= now && now < to, w);
  }
  // On a bucket boundary, the bucket starting now is the last one.
  assert.deepEqual(windowBuckets(WINDOWS['15m'], 30 * 60_000), { grain: 'minute', from: 16 * 60_000, to: 31 * 60_000 });
});

test('analytics reads - the utilization step: whole minutes, at least one, so that the aligned buckets meeting any range are at most 500', () => {
  assert.equal(utilizationStep(3_600_000), 60_000);
  assert.equal(utilizationStep(7 * 86_400_000), 21 * 60_000);
  for (const span of [1, 59_999, 60_000, 499 * 60_000, 499 * 60_000 + 1, 86_400_000, 7 * 86_400_000 + 12_345, 30 * 86_400_000, 400 * 86_400_000]) {
    const step = utilizationStep(span);
    assert.equal(step % 60_000, 0);
    for (const from of [0, 1, 59_999, 12_345_678, 1_700_000_000_123]) {
      const buckets = Math.floor((from + span - 1) / step) - Math.floor(from / step) + 1;
      assert.ok(buckets <= MAX_UTILIZATION_POINTS, `span ${span} from ${from}: ${buckets}`);
    }
  }
});
