import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadLetterRate, type DeadLetterMemo } from './collectSamples.js';

test('dead-letter rate - per minute over the window, from the stream\'s last sequence as seen at each look', () => {
  const memo: DeadLetterMemo = { seen: [] };
  const W = 5 * 60_000;
  assert.equal(deadLetterRate(memo, 100, 0, W), null, 'nothing to compare with at the first look');
  assert.equal(deadLetterRate(memo, 110, 60_000, W), 10, 'before a full window: over what was seen');
  assert.equal(deadLetterRate(memo, 150, 5 * 60_000, W), 10);
  // Older looks leave the window: the rate is over the last five minutes only.
  assert.equal(deadLetterRate(memo, 150, 10 * 60_000, W), 0);
  assert.ok(memo.seen.length <= 3, `looks kept: ${memo.seen.length}`);
});
