import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScopePolicy } from '@farmbrain/contracts';
import { symbolsOf } from './agent.js';
import { resolvePolicy, checkAgents } from './fleet.js';
import { demoRoster, demoScopePolicy, RISK_DESK_ID } from './roster.js';

test('demoRoster: teams in turn, the first of each leads', () => {
  assert.deepEqual(demoRoster(4), [
    { index: 0, id: 'momo-1', name: 'Momo 1', team: 'momentum', strategy: 'momentum', lead: true },
    { index: 1, id: 'mrev-1', name: 'Reverter 1', team: 'mean-reversion', strategy: 'mean-reversion', lead: true },
    { index: 2, id: 'brk-1', name: 'Breaker 1', team: 'breakout', strategy: 'breakout', lead: true },
    { index: 3, id: 'momo-2', name: 'Momo 2', team: 'momentum', strategy: 'momentum', lead: false },
  ]);
});

test('demoScopePolicy: each lead its team, the risk desk the fleet; what the services parse from its JSON', () => {
  assert.equal(JSON.stringify(demoScopePolicy(6)),
    '{"writers":{"fleet":["risk-desk"],"team:momentum":["momo-1"],"team:mean-reversion":["mrev-1"],"team:breakout":["brk-1"]},"teams":{}}');
  assert.deepEqual(demoScopePolicy(1), { writers: { fleet: [RISK_DESK_ID], 'team:momentum': ['momo-1'] }, teams: {} });
  for (const n of [1, 6, 14]) assert.deepEqual(parseScopePolicy(JSON.stringify(demoScopePolicy(n))), demoScopePolicy(n));
});

test('resolvePolicy: given, parsed from text, or the demo\'s; always with writers and teams', () => {
  assert.deepEqual(resolvePolicy(undefined, 2), { writers: { fleet: ['risk-desk'], 'team:momentum': ['momo-1'], 'team:mean-reversion': ['mrev-1'] }, teams: {} });
  assert.deepEqual(resolvePolicy('{"teams":{"a":["x"]}}', 2), { writers: {}, teams: { a: ['x'] } });
  assert.deepEqual(resolvePolicy('', 2), { writers: {}, teams: {} });
  assert.throws(() => resolvePolicy('{"bad":1}', 2), /unknown key/);
});

test('checkAgents: 1..200', () => {
  checkAgents(1);
  checkAgents(200);
  for (const n of [0, 201, 1.5, Number.NaN]) assert.throws(() => checkAgents(n), /agents must be an integer from 1 to 200/);
});

test('symbolsOf: two symbols per agent, spread over the fleet', () => {
  assert.deepEqual(symbolsOf(0), ['BTC-USD', 'ETH-USD']);
  assert.deepEqual(symbolsOf(3), ['AAPL', 'BTC-USD']);
  assert.deepEqual(symbolsOf(5), ['ETH-USD', 'AAPL']);
});
