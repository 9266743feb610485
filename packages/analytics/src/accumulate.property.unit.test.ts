import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FarmEvent } from '@farmbrain/contracts';
import { cutBatches, propertyRuns } from '@farmbrain/testing';
import { accumulate, COUNTERS, keyString, REAL_COUNTERS, zeroCounters, type Accumulated, type Counters, type DecisionFacts, type Known } from './accumulate.js';
import { GRAINS } from './types.js';
import { ExactSum } from './exactSum.js';

const T0 = Date.UTC(2026, 11, 1, 23, 58);
const AGENTS = ['a0', 'a1', 'a2'];
const TEAMS = ['red', 'blue'];

/** One step of a log: what happens, to which agent, how far in time. The ids are made by `logOf`. */
const stepArb = fc.record({
  agent: fc.integer({ min: 0, max: AGENTS.length - 1 }),
  dt: fc.integer({ min: 0, max: 90_000 }),
  kind: fc.constantFrom('register', 'decision', 'decision', 'trade', 'close', 'close', 'store', 'update', 'recall', 'recall', 'consolidate'),
  team: fc.integer({ min: 0, max: TEAMS.length - 1 }),
  action: fc.constantFrom('buy', 'sell', 'hold', 'close'),
  confidence: fc.integer({ min: 0, max: 100 }).map((c) => c / 100),
  cites: fc.integer({ min: 0, max: 3 }),
  recallIds: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  pnl: fc.integer({ min: -500, max: 500 }),
  names: fc.array(fc.nat(), { maxLength: 4 }),
  hits: fc.array(fc.constantFrom('hot', 'warm'), { maxLength: 5 }),
  latency: fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 5000, noNaN: true })),
  merged: fc.integer({ min: 2, max: 5 }),
});

/** A log in order: decisions get ids d<i>; a close names decisions seen so far (any agent) and sometimes an unknown one. */
type Step = typeof stepArb extends fc.Arbitrary<infer S> ? S : never;
function logOf(steps: readonly Step[]): FarmEvent[] {
  let t = T0;
  const decided: string[] = [];
  return steps.map((s, i) => {
    t += s.dt;
    const base = { eventId: `e${i}`, agentId: AGENTS[s.agent]!, producerSeq: i + 1, occurredAt: t, correlationId: '', causationId: '', schemaVersion: 1 };
    switch (s.kind) {
      case 'register': return { ...base, type: 'agent_registered', data: { name: `n${i}`, team: TEAMS[s.team]!, strategy: '', config: {} } } as FarmEvent;
      case 'decision': {
        decided.push(base.eventId);
        return { ...base, type: 'decision_made', data: { symbol: 'X', action: s.action, size: 1, confidence: s.confidence, rationale: '', situation: [], memoryIds: Array.from({ length: s.cites }, (_, k) => `m${k}`), recallIds: s.recallIds.map((r) => `r${r}`) } } as FarmEvent;
      }
      case 'trade': return { ...base, type: 'trade_executed', data: { orderId: `o${i}`, symbol: 'X', side: 'buy', qty: s.cites + 1, price: Math.abs(s.pnl) + 1, fees: 0, decisionId: '' } } as FarmEvent;
      case 'close': return { ...base, type: 'position_closed', data: { symbol: 'X', realizedPnl: s.pnl, exitPrice: 1, decisionIds: [...s.names.map((k) => (decided.length > 0 ? decided[k % decided.length]! : 'unknown')), ...(s.names.length === 1 ? ['unknown'] : [])] } } as FarmEvent;
      case 'store': return { ...base, type: 'memory_stored', data: {} } as unknown as FarmEvent;
      case 'update': return { ...base, type: 'memory_updated', data: {} } as unknown as FarmEvent;
      case 'recall': return { ...base, type: 'memory_recalled', data: { queryText: '', queryVector: [], filters: {}, k: 5, embeddingModel: '', latencyMs: s.latency, hits: s.hits.map((tier, k) => ({ memoryId: `m${k}`, version: 1, score: 1, tier })) } } as FarmEvent;
      default: return { ...base, type: 'memories_consolidated', data: { canonicalMemoryId: `c${i}`, mergedIds: Array.from({ length: s.merged }, (_, k) => `m${k}`), text: '', representativeId: '', method: 'representative', similarityThreshold: 0.9, reason: '' } } as FarmEvent;
    }
  });
}

/** What the tables would hold: increments summed by row, plus the agents' teams and the decisions kept (first write wins). */
interface Totals { rows: Map<string, Counters>; exact: Map<string, ExactSum>; cal: Map<string, number[]>; calExact: Map<string, ExactSum>; lat: Map<string, number>; teams: Map<string, string>; decisions: Map<string, DecisionFacts> }
const emptyTotals = (): Totals => ({ rows: new Map(), exact: new Map(), cal: new Map(), calExact: new Map(), lat: new Map(), teams: new Map(), decisions: new Map() });
const knownOf = (t: Totals): Known => ({ team: (a) => t.teams.get(a), decision: (id) => t.decisions.get(id) });
function applyTo(t: Totals, acc: Accumulated): void {
  for (const r of acc.rollups) {
    const k = keyString(r.key);
    const c = t.rows.get(k) ?? zeroCounters();
    for (const x of COUNTERS) c[x] += r.c[x];
    t.rows.set(k, c);
    for (const [x, v] of Object.entries(r.exact)) {
      const e = t.exact.get(`${k}|${x}`) ?? new ExactSum();
      t.exact.set(`${k}|${x}`, e.add(v));
    }
  }
  for (const r of acc.calibration) {
    const k = `${keyString(r.key)}|${r.bin}`;
    const v = t.cal.get(k) ?? [0, 0, 0];
    t.cal.set(k, [v[0]! + r.n, v[1]! + r.wins, v[2]! + Number(r.confidenceSum)]);
    t.calExact.set(k, (t.calExact.get(k) ?? new ExactSum()).add(r.confidenceSum));
  }
  for (const r of acc.latency) t.lat.set(`${keyString(r.key)}|${r.bin}`, (t.lat.get(`${keyString(r.key)}|${r.bin}`) ?? 0) + r.n);
  for (const a of acc.agents) if (a.registered) t.teams.set(a.agentId, a.registered.team);
  for (const d of acc.decisions) if (!t.decisions.has(d.decisionId)) t.decisions.set(d.decisionId, d);
}
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

function assertSameTotals(x: Totals, y: Totals): void {
  assert.deepEqual([...x.rows.keys()].sort(), [...y.rows.keys()].sort());
  for (const [k, c] of x.rows) {
    const d = y.rows.get(k)!;
    for (const f of COUNTERS) assert.ok(REAL_COUNTERS.has(f) ? close(c[f], d[f]) : c[f] === d[f], `${k} ${f}: ${c[f]} vs ${d[f]}`);
  }
  assert.deepEqual([...x.cal.keys()].sort(), [...y.cal.keys()].sort());
  for (const [k, v] of x.cal) {
    const w = y.cal.get(k)!;
    assert.ok(v[0] === w[0] && v[1] === w[1] && close(v[2]!, w[2]!), `calibration ${k}`);
  }
  assert.deepEqual(new Map([...x.lat].sort()), new Map([...y.lat].sort()));
  // Real sums are exact: the very same decimals whatever the split (a rebuild writes the same rows).
  const str = (m: Map<string, ExactSum>) => new Map([...m].map(([k, v]) => [k, v.toString()] as const).sort());
  assert.deepEqual(str(x.exact), str(y.exact));
  assert.deepEqual(str(x.calExact), str(y.calExact));
}

test('accumulate - a log folded in any split into batches adds up to the same rollups as folded whole', () => {
  fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }), (steps, sizes) => {
    const log = logOf(steps);
    const whole = emptyTotals();
    applyTo(whole, accumulate(log, knownOf(whole)));
    const split = emptyTotals();
    for (const batch of cutBatches(log, sizes)) applyTo(split, accumulate(batch, knownOf(split)));
    assertSameTotals(whole, split);
  }), propertyRuns(200));
});

test('accumulate - every bucket of the fleet is the sum of its agents and the sum of its teams', () => {
  fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), (steps) => {
    const t = emptyTotals();
    applyTo(t, accumulate(logOf(steps), knownOf(t)));
    const byScope = new Map<string, Counters>();
    for (const [k, c] of t.rows) {
      const [scope, , grain, bucket] = k.split('\u0000');
      const s = `${scope}|${grain}|${bucket}`;
      const sum = byScope.get(s) ?? zeroCounters();
      for (const f of COUNTERS) sum[f] += c[f];
      byScope.set(s, sum);
    }
    for (const [s, fleet] of byScope) {
      if (!s.startsWith('fleet|')) continue;
      for (const scope of ['agent', 'team']) {
        const other = byScope.get(s.replace('fleet|', `${scope}|`))!;
        for (const f of COUNTERS) assert.ok(close(fleet[f], other[f]), `${s} ${scope} ${f}`);
      }
    }
    for (const g of GRAINS) assert.ok([...byScope.keys()].some((s) => s.startsWith(`fleet|${g}|`)) || steps.every((x) => x.kind === 'register'));
  }), propertyRuns(200));
});

test('accumulate - a close scores only decisions of its own agent, once each, in the bucket of the close', () => {
  const ev = (i: number, agentId: string, at: number, type: string, data: object) => ({ eventId: `e${i}`, agentId, producerSeq: i, occurredAt: at, correlationId: '', causationId: '', schemaVersion: 1, type, data }) as FarmEvent;
  const log = [
    ev(1, 'a', T0, 'decision_made', { action: 'buy', confidence: 0.8, memoryIds: ['m1', 'm1'], recallIds: ['r1', 'r1', 'r2'] }),
    ev(2, 'b', T0, 'decision_made', { action: 'sell', confidence: 0.3, memoryIds: [], recallIds: [] }),
    ev(3, 'a', T0 + 3 * 60_000, 'position_closed', { realizedPnl: 10, decisionIds: ['e1', 'e1', 'e2', 'nope'] }),
  ];
  const t = emptyTotals();
  applyTo(t, accumulate(log, knownOf(t)));
  const minute = (at: number) => t.rows.get(keyString({ scope: 'agent', scopeId: 'a', grain: 'minute', bucket: Math.floor(at / 60_000) * 60_000 }))!;
  assert.equal(minute(T0).usefulRecalls, 2, 'distinct recall ids of the decision');
  assert.equal(minute(T0).scored, 0);
  const c = minute(T0 + 3 * 60_000);
  assert.deepEqual([c.closes, c.wins, c.scored, c.scoredWins, c.citedScored, c.citedWins], [1, 1, 1, 1, 1, 1]);
  assert.ok(close(c.brierSum, 0.2 ** 2));
});
