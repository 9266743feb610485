import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RETENTION, pruneTasks } from './retention.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 15, 12, 34, 56, 789);

test('retention - each owner prunes its own partitions; tier samples only the owner of partition 0', () => {
  const t = pruneTasks(NOW, DEFAULT_RETENTION, [2, 0, 2]);
  assert.deepEqual(t.map((x) => `${x.table}:${x.partition ?? '-'}`), [
    'rollups:0', 'rollup_calibration:0', 'rollup_latency:0', 'analytics_decisions:0',
    'rollups:2', 'rollup_calibration:2', 'rollup_latency:2', 'analytics_decisions:2',
    'tier_samples:-',
  ]);
  assert.ok(!pruneTasks(NOW, DEFAULT_RETENTION, [1, 3]).some((x) => x.table === 'tier_samples'), 'not the owner of partition 0');
  assert.deepEqual(pruneTasks(NOW, DEFAULT_RETENTION, []), [], 'an instance that owns nothing prunes nothing');
});

test('retention - what is due: whole minute buckets older than the retention, decisions and samples older than theirs', () => {
  const t = pruneTasks(NOW, { minuteDays: 14, tierSampleDays: 90, decisionDays: 30 }, [0]);
  const minute = t.find((x) => x.table === 'rollups')!;
  // The minute holding now − 14 d is not due (part of it is within the retention); the one before it is.
  const edge = NOW - 14 * DAY;
  assert.equal(minute.before, Math.floor(edge / 60_000) * 60_000);
  const due = (bucket: number) => bucket < minute.before;
  assert.ok(due(minute.before - 60_000) && minute.before - 60_000 + 60_000 <= edge, 'the minute before ends within the past');
  assert.ok(!due(Math.floor(edge / 60_000) * 60_000), 'the minute holding the edge stays');
  assert.ok(!due(NOW - 13 * DAY), '13 days old stays');
  assert.equal(t.find((x) => x.table === 'rollup_latency')!.before, minute.before);
  assert.equal(t.find((x) => x.table === 'rollup_calibration')!.before, minute.before);
  const d = t.find((x) => x.table === 'analytics_decisions')!;
  assert.equal(d.before, NOW - 30 * DAY);
  assert.equal(d.retentionMs, 30 * DAY);
  assert.equal(t.find((x) => x.table === 'tier_samples')!.before, NOW - 90 * DAY);
});

test('retention - 0 days keeps that kind forever', () => {
  assert.deepEqual(pruneTasks(NOW, { minuteDays: 0, tierSampleDays: 0, decisionDays: 0 }, [0, 1]), []);
  const onlyDecisions = pruneTasks(NOW, { minuteDays: 0, tierSampleDays: 0, decisionDays: 90 }, [0]);
  assert.deepEqual(onlyDecisions.map((x) => x.table), ['analytics_decisions']);
});
