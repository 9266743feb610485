import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decayed, decayPart, demotionVerdict, DEFAULT_LIFECYCLE_POLICY, promotionVerdict, type MemoryPolicy } from './index.js';

const P: MemoryPolicy = DEFAULT_LIFECYCLE_POLICY.memory;
const NOW = Date.UTC(2026, 11, 1);
const DAY = 86_400_000;

test('memory promotion - recalls in the window plus the importance bonus reach promoteAccesses', () => {
  assert.equal(promotionVerdict(P, { accessesInWindow: 3, importance: 0 }, NOW).promote, true);
  assert.equal(promotionVerdict(P, { accessesInWindow: 2, importance: 0 }, NOW).promote, false);
  // importance 0.5 × weight 2 counts as one recall
  assert.equal(promotionVerdict(P, { accessesInWindow: 2, importance: 0.5 }, NOW).promote, true);
  assert.equal(promotionVerdict(P, { accessesInWindow: 1, importance: 1 }, NOW).promote, true);
  // importance alone never promotes: at least one recall in the window
  assert.equal(promotionVerdict({ ...P, importanceWeight: 10 }, { accessesInWindow: 0, importance: 1 }, NOW).promote, false);
  assert.equal(promotionVerdict({ ...P, promoteAccesses: 0 }, { accessesInWindow: 50, importance: 1 }, NOW).promote, false);
  const v = promotionVerdict(P, { accessesInWindow: 2, importance: 0.5 }, NOW);
  assert.equal(v.reason, 'recalled 2 time(s) in the 60 minutes before 2026-12-01T00:00:00.000Z, plus importance 0.5 × 2 = 3, reaches 3 (memory.promoteAccesses = 3, memory.promoteWindowMinutes = 60, memory.importanceWeight = 2)');
  assert.equal(v.policy, 'memory.promoteAccesses');
});

test('memory demotion - a hot memory idle for hotIdleMinutes goes back to warm', () => {
  assert.equal(demotionVerdict(P, { lastAccessedAt: NOW - P.hotIdleMinutes * 60_000 }, NOW).demote, true);
  assert.equal(demotionVerdict(P, { lastAccessedAt: NOW - P.hotIdleMinutes * 60_000 + 1 }, NOW).demote, false);
  assert.equal(demotionVerdict(P, { lastAccessedAt: null }, NOW).demote, true);
  assert.equal(demotionVerdict(P, { lastAccessedAt: NOW - 2 * DAY }, NOW).reason,
    'not recalled since 2026-11-29T00:00:00.000Z: idle 2880 minutes, at least 1440 (memory.hotIdleMinutes = 1440) as of 2026-12-01T00:00:00.000Z');
});

test('memory decay - opt-in, halves the score every halfLifeDays since the last recall, never below minFactor', () => {
  assert.equal(decayPart(P.decay, { createdAt: NOW - 30 * DAY }, NOW), null, 'off by default');
  const on = { ...P.decay, enabled: true };
  assert.deepEqual(decayPart(on, { createdAt: NOW - 30 * DAY }, NOW), { halfLifeDays: 30, minFactor: 0.05, ageDays: 30, since: 'created', factor: 0.5 });
  assert.deepEqual(decayPart(on, { createdAt: NOW - 90 * DAY, lastAccessedAt: NOW - 15 * DAY }, NOW), { halfLifeDays: 30, minFactor: 0.05, ageDays: 15, since: 'lastRecalled', factor: 0.707107 });
  assert.equal(decayPart(on, { createdAt: NOW - 3000 * DAY }, NOW)!.factor, 0.05);
  assert.equal(decayPart(on, { createdAt: NOW + DAY }, NOW)!.factor, 1, 'a clock ahead never raises a score');
  assert.equal(decayed(0.4, decayPart(on, { createdAt: NOW - 30 * DAY }, NOW)), 0.2);
  assert.equal(decayed(0.4, null), 0.4);
  // Monotone: an older memory never scores above a younger one with the same raw score.
  let last = 2;
  for (let d = 0; d < 400; d += 7) {
    const f = decayPart(on, { createdAt: NOW - d * DAY }, NOW)!.factor;
    assert.ok(f <= last && f >= on.minFactor);
    last = f;
  }
});
