import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMPACTION_POLICY, compactionDayKey, planCompaction, type ColdBlockInfo } from './compaction.js';
import { DAY_MS, type PlannedMove } from './planner.js';

const D = Date.UTC(2026, 10, 1);
const NOW = D + 30 * DAY_MS;
const block = (id: string, records: number, o: Partial<ColdBlockInfo> = {}): ColdBlockInfo => ({ blockId: id, agentId: 'a', kind: 'decision', dayMs: D, records, storedBytes: records * 10, ...o });
const move = (from: 'warm' | 'cold', to: 'cold' | 'archive' | 'deleted', records: number, o: Partial<PlannedMove['data']> = {}): PlannedMove => ({
  eventId: `m-${from}-${to}`, agentId: 'a', occurredAt: NOW, records, bytesBefore: records * 40, bytesAfter: records * 10,
  data: { kind: 'decision', fromTier: from, toTier: to, dayMs: D, recordIds: [], policy: 'decision.coldAfterDays', reason: '', ...o },
});

test('compaction - a day of several small cold blocks gets one cold → cold move naming the day', () => {
  const p = planCompaction([block('b2', 5), block('b1', 3), block('c1', 4, { dayMs: D + DAY_MS })], [], NOW, { blockRows: 100 });
  assert.equal(p.moves.length, 1);
  const [m] = p.moves;
  assert.deepEqual(m!.data, { kind: 'decision', fromTier: 'cold', toTier: 'cold', dayMs: D, recordIds: [], policy: COMPACTION_POLICY, reason: m!.data.reason });
  assert.match(m!.data.reason, /^2 cold blocks of decisions of 2026-11-01 \(8 records\) merged into 1/);
  assert.deepEqual(p.days, [{ agentId: 'a', kind: 'decision', dayMs: D, blocksBefore: 2, blocksAfter: 1, records: 8 }]);
  // The same blocks in another order: the same id; another block: another id.
  assert.equal(planCompaction([block('b1', 3), block('b2', 5)], [], NOW + 1, { blockRows: 100 }).moves[0]!.eventId, m!.eventId);
  assert.notEqual(planCompaction([block('b1', 3), block('b2', 5), block('b3', 1)], [], NOW, { blockRows: 100 }).moves[0]!.eventId, m!.eventId);
});

test('compaction - only when merging makes fewer blocks', () => {
  assert.equal(planCompaction([block('b1', 100), block('b2', 100)], [], NOW, { blockRows: 100 }).moves.length, 0, 'two full blocks stay');
  assert.equal(planCompaction([block('b1', 60), block('b2', 50), block('b3', 10)], [], NOW, { blockRows: 100 }).days[0]?.blocksAfter, 2);
  assert.equal(planCompaction([block('b1', 3)], [], NOW).moves.length, 0, 'one block');
});

test('compaction - counts the moves of the same run: a day leaving cold is left, warm rows joining it are merged in', () => {
  const blocks = [block('b1', 3), block('b2', 5)];
  assert.equal(planCompaction(blocks, [move('cold', 'archive', 8)], NOW).moves.length, 0, 'the day goes to the archive');
  const joined = planCompaction([block('b1', 3)], [move('warm', 'cold', 2)], NOW, {
    measured: new Map([[compactionDayKey('a', 'decision', D), { blocks: 1, bytes: 33 }]]),
  });
  assert.deepEqual(joined.days, [{ agentId: 'a', kind: 'decision', dayMs: D, blocksBefore: 2, blocksAfter: 1, records: 5 }]);
  assert.equal(joined.bytesBefore, 30 + 20);
  assert.equal(joined.bytesAfter, 33, 'the measured bytes');
});
