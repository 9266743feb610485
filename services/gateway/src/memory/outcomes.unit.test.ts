import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FarmbrainError } from '@farmbrain/contracts';
import { outcomeStats, similarDecisionsQuery } from './outcomes.js';
import type { DecisionOutcome } from './types.js';

const closed = (realizedPnl: number, holdingMs = 1000): { outcome: DecisionOutcome } => ({
  outcome: { status: 'closed', realizedPnl, win: realizedPnl === 0 ? null : realizedPnl > 0, holdingMs, positionIds: ['p'] },
});
const open = (): { outcome: DecisionOutcome } => ({
  outcome: { status: 'open', realizedPnl: null, win: null, holdingMs: null, positionIds: ['p'] },
});
const near = (a: number | null, b: number) => {
  assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${a} ≈ ${b}`);
};

test('outcomeStats - win rate, mean, sample stdev, odd median, min/max, mean holding', () => {
  // P&L 10, -5, 20, 0, 5: mean 6, deviations 4, -11, 14, -6, -1 → squares sum 370, / 4 = 92.5
  const s = outcomeStats([closed(10, 1000), closed(-5, 2000), closed(20, 3000), closed(0, 4000), closed(5, 5000)]);
  assert.equal(s.n, 5);
  assert.equal(s.wins, 3);
  assert.equal(s.losses, 1, 'break-even is neither a win nor a loss');
  assert.equal(s.winRate, 3 / 5, 'break-even counts in the denominator');
  assert.equal(s.meanPnl, 6);
  near(s.stdevPnl, Math.sqrt(92.5));
  assert.equal(s.medianPnl, 5);
  assert.equal(s.minPnl, -5);
  assert.equal(s.maxPnl, 20);
  assert.equal(s.meanHoldingMs, 3000);
});

test('outcomeStats - even median is the mean of the middle two; open outcomes are ignored', () => {
  const s = outcomeStats([closed(4), open(), closed(1), closed(3), closed(100), open()]);
  assert.equal(s.n, 4);
  assert.equal(s.medianPnl, 3.5);
  assert.equal(s.meanPnl, 27);
  assert.equal(s.winRate, 1);
  assert.equal(s.losses, 0);
});

test('outcomeStats - one outcome has no stdev; none has nulls', () => {
  const one = outcomeStats([closed(-2, 60_000)]);
  assert.deepEqual(one, { n: 1, wins: 0, losses: 1, winRate: 0, meanPnl: -2, stdevPnl: null, medianPnl: -2, minPnl: -2, maxPnl: -2, meanHoldingMs: 60_000 });
  const none = { n: 0, wins: 0, losses: 0, winRate: null, meanPnl: null, stdevPnl: null, medianPnl: null, minPnl: null, maxPnl: null, meanHoldingMs: null };
  assert.deepEqual(outcomeStats([]), none);
  assert.deepEqual(outcomeStats([open(), open()]), none);
});

test('similarDecisions request validation - INVALID_REQUEST for bad k, situation and times', () => {
  const bad = (req: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => similarDecisionsQuery(['a'], { situation: [1, 2], ...req } as never), (e: unknown) => e instanceof FarmbrainError && e.code === 'INVALID_REQUEST' && re.test(e.message));
  bad({ k: 0 }, /k must be an integer from 1 to 200/);
  bad({ k: 201 }, /k must be/);
  bad({ k: 2.5 }, /k must be/);
  bad({ k: '5' }, /k must be/);
  bad({ situation: [] }, /non-empty/);
  bad({ situation: 'x' }, /non-empty/);
  bad({ situation: [1, Number.NaN] }, /situation\[1\]/);
  bad({ situation: [1, Number.POSITIVE_INFINITY] }, /situation\[1\]/);
  bad({ situation: [1, '2'] }, /situation\[1\]/);
  bad({ situation: new Array(4097).fill(0) }, /4097 dimensions/);
  bad({ since: 'yesterday' }, /since="yesterday" is not a time/);
  bad({ until: Number.NaN }, /until=/);
  // Valid: defaults, boundaries, both time forms; no agents → nothing to query.
  assert.equal(similarDecisionsQuery([], { situation: [1] }), undefined);
  const q = similarDecisionsQuery(['a'], { situation: new Array(4096).fill(0), k: 200, since: '2024-01-01T00:00:00Z', until: 1_704_153_600_000 });
  assert.ok(q);
  assert.equal(q.values.at(-1), 200);
  assert.equal(similarDecisionsQuery(['a'], { situation: [0] })!.values.at(-1), 10);
});
