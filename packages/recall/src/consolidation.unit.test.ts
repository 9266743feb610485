import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hashEmbed } from '@farmbrain/platform';
import { planConsolidation, tagOverlap, type ConsolidationCandidate } from './consolidation.js';
import { dot } from './vectorIndex.js';

const DAY = 86_400_000;
let n = 0;
const mem = (text: string, tags: string[], o: Partial<ConsolidationCandidate> = {}): ConsolidationCandidate => ({
  memoryId: `m${String(++n).padStart(3, '0')}`, agentId: 'a1', ownerKey: 'agent:a1', kind: 'lesson', text, tags, importance: 0.5,
  createdAt: 1_700_000_000_000 + n * DAY, embedding: hashEmbed(text, 256), evidence: 1, ...o,
});

// The demo fleet's lessons: the same setup lost again and again, with other numbers.
const lost = (usd: string, pct: string, held: number, symbol = 'BTC-USD', why = 'stop-loss') =>
  `Lost $${usd} (${pct}) on a momentum long in ${symbol} in a trending market, held ${held} ticks, exit by ${why}. Entry was: breakout above the 20-tick high on rising volume. ` +
  (why === 'stop-loss' ? 'Lesson: the move reversed fast; demand a stronger signal or size down here.' : 'Lesson: the edge did not show up in time; fees ate the rest.');

test('consolidation - merges exactly the near-duplicates of a constructed set, around the most representative one', () => {
  const tags = ['BTC-USD', 'trending', 'loss', 'momentum', 'stop-loss'];
  const dupes = [mem(lost('82.93', '-0.8%', 12), tags), mem(lost('79.10', '-0.7%', 14), tags), mem(lost('91.02', '-0.9%', 11), tags), mem(lost('80.55', '-0.8%', 13), tags)];
  const timeExit = [mem(lost('12.40', '-0.1%', 40, 'BTC-USD', 'time'), ['BTC-USD', 'trending', 'loss', 'momentum', 'time']), mem(lost('10.95', '-0.1%', 40, 'BTC-USD', 'time'), ['BTC-USD', 'trending', 'loss', 'momentum', 'time'])];
  const other = [
    mem(lost('82.93', '-0.8%', 12, 'ETH-USD'), ['ETH-USD', 'trending', 'loss', 'momentum', 'stop-loss']),
    mem('Funding on SOL-PERP turned sharply negative before the squeeze; shorts paid for it.', ['SOL-PERP', 'funding']),
    mem(lost('82.93', '-0.8%', 12), tags, { kind: 'reflection' }),
    mem(lost('82.93', '-0.8%', 12), tags, { agentId: 'a2', ownerKey: 'agent:a2' }),
    mem(lost('82.93', '-0.8%', 12), tags, { embedding: null }),
  ];
  const groups = planConsolidation([...other, ...timeExit, ...dupes]);
  assert.deepEqual(groups.map((g) => g.mergedIds).sort(), [dupes.map((m) => m.memoryId), timeExit.map((m) => m.memoryId)].sort());
  const g = groups.find((x) => x.mergedIds.length === 4)!;
  assert.equal(g.evidence, 4);
  assert.equal(g.firstAt, dupes[0]!.createdAt);
  assert.equal(g.lastAt, dupes[3]!.createdAt);
  assert.ok(g.mergedIds.includes(g.representativeId));
  assert.equal(g.text, dupes.find((m) => m.memoryId === g.representativeId)!.text);
  // ETH's copy of the same lesson is a different symbol: a different memory, even if the words are close.
  assert.ok(!groups.some((x) => x.mergedIds.includes(other[0]!.memoryId)));
  assert.deepEqual(planConsolidation([...dupes].reverse()), planConsolidation(dupes), 'the plan does not depend on input order');
  assert.equal(planConsolidation(dupes)[0]!.canonicalMemoryId, g.canonicalMemoryId, 'the same group names the same canonical memory');
});

test('consolidation - property: every member is a near-duplicate of its group\'s leader, no memory is in two groups, one author, owner and kind per group', () => {
  const words = ['btc', 'eth', 'sol', 'long', 'short', 'stop', 'reversal', 'trend', 'range', 'fees', 'volume', 'breakout'];
  const arb = fc.array(fc.record({
    words: fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 6 }),
    tags: fc.subarray(['a', 'b', 'c', 'd']),
    kind: fc.constantFrom('lesson' as const, 'observation' as const),
    agent: fc.constantFrom('a1', 'a2'),
    importance: fc.double({ min: 0, max: 1, noNaN: true }),
  }), { maxLength: 40 });
  fc.assert(fc.property(arb, fc.double({ min: 0.5, max: 0.99, noNaN: true }), (specs, threshold) => {
    const ms = specs.map((s, i) => mem(s.words.join(' '), s.tags, { memoryId: `p${i}`, kind: s.kind, agentId: s.agent, ownerKey: `agent:${s.agent}`, importance: s.importance }));
    const byId = new Map(ms.map((m) => [m.memoryId, m]));
    const groups = planConsolidation(ms, { threshold, minTagOverlap: 0.5, minGroup: 2 });
    const seen = new Set<string>();
    for (const g of groups) {
      assert.ok(g.mergedIds.length >= 2);
      const members = g.mergedIds.map((id) => byId.get(id)!);
      assert.equal(new Set(members.map((m) => `${m.agentId}/${m.ownerKey}/${m.kind}`)).size, 1);
      const leader = [...members].sort((a, b) => b.importance - a.importance || a.createdAt - b.createdAt || (a.memoryId < b.memoryId ? -1 : 1))[0]!;
      for (const m of members) {
        assert.ok(dot(leader.embedding!, m.embedding!) >= threshold - 1e-9, 'similar enough to its leader');
        assert.ok(tagOverlap(leader.tags, m.tags) >= 0.5);
        assert.ok(!seen.has(m.memoryId), 'in one group only');
        seen.add(m.memoryId);
      }
    }
  }), { numRuns: 200 });
});
