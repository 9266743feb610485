import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestStack } from '@farmbrain/testing';

/**
 * The analytics routes against a real stack: bad input is a 400 that names what is wrong and changes nothing;
 * before the analytics service ever ran they answer 503 ANALYTICS_UNAVAILABLE; once it runs, their figures are
 * those of the events published.
 */
const stack = new TestStack();
type ErrorBody = { error: { code: string; message: string } };

const ingressCount = async () => (await stack.jsm.streams.info(stack.names.ingressStream)).state.messages;

before(async () => {
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  await stack.start('gateway');
});
after(() => stack.destroy());

test('analytics - bad input is a 400 naming the parameter (bad grain, unknown scope, from after to, id on the fleet) and changes nothing', async () => {
  const before = await ingressCount();
  const cases: [string, string, RegExp][] = [
    ['/v1/analytics/rollups?scope=fleet&grain=week', 'VALIDATION_FAILED', /grain/],
    ['/v1/analytics/rollups?scope=galaxy&grain=hour', 'VALIDATION_FAILED', /scope/],
    ['/v1/analytics/rollups?scope=fleet&grain=hour&from=2026-01-02&to=2026-01-01', 'INVALID_REQUEST', /from .* must be before to/],
    ['/v1/analytics/rollups?scope=fleet&grain=hour&from=5&to=5', 'INVALID_REQUEST', /must be before/],
    ['/v1/analytics/rollups?scope=fleet&id=a1&grain=hour', 'INVALID_REQUEST', /scope=fleet takes no id/],
    ['/v1/analytics/rollups?scope=agent&grain=hour', 'INVALID_REQUEST', /scope=agent needs an id/],
    ['/v1/analytics/rollups?scope=fleet&grain=minute&from=0&to=2000000000000', 'INVALID_REQUEST', /buckets; at most/],
    ['/v1/analytics/rollups?scope=fleet&grain=hour&from=yesterday', 'VALIDATION_FAILED', /from/],
    ['/v1/analytics/calibration?scope=team', 'INVALID_REQUEST', /needs an id/],
    ['/v1/analytics/indicators?window=2y', 'VALIDATION_FAILED', /window/],
    ['/v1/analytics/overview?window=forever', 'VALIDATION_FAILED', /window/],
    ['/v1/analytics/agents?window=0', 'VALIDATION_FAILED', /window/],
    ['/v1/analytics/utilization?from=2030-01-01&to=2020-01-01', 'INVALID_REQUEST', /must be before/],
    ['/v1/alerts?state=sleeping', 'VALIDATION_FAILED', /state/],
    ['/v1/alerts?limit=0', 'VALIDATION_FAILED', /limit/],
    ['/v1/agents/bad%20agent/memory-health', 'VALIDATION_FAILED', /agentId/],
  ];
  for (const [url, code, message] of cases) {
    const r = await stack.get<ErrorBody>(url);
    assert.equal(r.status, 400, `${url}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, code, url);
    assert.match(r.body.error.message, message, url);
  }
  assert.equal(await ingressCount(), before);
});

test('analytics - before the analytics service ever ran, the reads answer 503 ANALYTICS_UNAVAILABLE saying to start it', async () => {
  for (const url of ['/v1/analytics/overview', '/v1/analytics/rollups?scope=fleet&grain=hour', '/v1/analytics/agents', '/v1/alerts']) {
    const r = await stack.get<ErrorBody>(url);
    assert.equal(r.status, 503, `${url}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'ANALYTICS_UNAVAILABLE');
    assert.match(r.body.error.message, /start the analytics service/i);
  }
});

interface Bucket { bucket: number; decisions: { buy: number; sell: number; hold: number; close: number; total: number }; trades: number; closes: number; wins: number; pnl: number; scored: number; brier: number | null; memoryWrites: number; recalls: number }

test('analytics - once the analytics service runs, rollups, calibration, agents, overview and memory health match what was published', async () => {
  await stack.start('analytics');
  const w = await stack.post<{ accepted: { eventId: string }[] }>('/v1/events', {
    events: [
      { agentId: 'an-1', type: 'agent_registered', data: { name: 'Analyst', team: 'alpha' } },
      { agentId: 'an-1', type: 'decision_made', data: { symbol: 'ETH', action: 'buy', confidence: 0.8, size: 1 } },
      { agentId: 'an-1', type: 'decision_made', data: { symbol: 'ETH', action: 'buy', confidence: 0.6, size: 1 } },
      { agentId: 'an-1', type: 'decision_made', data: { symbol: 'BTC', action: 'sell', confidence: 0.3, size: 2 } },
      { agentId: 'an-2', type: 'agent_registered', data: { name: 'Other', team: 'beta' } },
      { agentId: 'an-2', type: 'decision_made', data: { symbol: 'SOL', action: 'hold', confidence: 0.5, size: 0 } },
    ],
  });
  assert.equal(w.status, 202);
  const decided = w.body.accepted[1]!.eventId;
  const closed = await stack.post('/v1/events', {
    events: [
      { agentId: 'an-1', type: 'trade_executed', data: { orderId: 'o1', symbol: 'ETH', side: 'buy', qty: 1, price: 100, decisionId: decided } },
      { agentId: 'an-1', type: 'position_closed', data: { symbol: 'ETH', realizedPnl: 25, exitPrice: 125, decisionIds: [decided] } },
    ],
  });
  assert.equal(closed.status, 202);
  for (const [importance, text] of [[0.9, 'ETH trends after breakouts'], [0.1, 'noise']] as const) {
    assert.equal((await stack.post('/v1/agents/an-1/memories', { kind: 'lesson', text, importance })).status, 201);
  }
  await stack.caughtUp();

  const sum = (items: Bucket[], f: (b: Bucket) => number) => items.reduce((s, b) => s + f(b), 0);
  const agent = await stack.get<{ items: Bucket[] }>('/v1/analytics/rollups?scope=agent&id=an-1&grain=minute');
  assert.equal(agent.status, 200, JSON.stringify(agent.body));
  assert.equal(sum(agent.body.items, (b) => b.decisions.buy), 2);
  assert.equal(sum(agent.body.items, (b) => b.decisions.sell), 1);
  assert.equal(sum(agent.body.items, (b) => b.decisions.total), 3);
  assert.equal(sum(agent.body.items, (b) => b.trades), 1);
  assert.equal(sum(agent.body.items, (b) => b.closes), 1);
  assert.equal(sum(agent.body.items, (b) => b.wins), 1);
  assert.equal(sum(agent.body.items, (b) => b.pnl), 25);
  assert.equal(sum(agent.body.items, (b) => b.scored), 1);
  assert.equal(sum(agent.body.items, (b) => b.memoryWrites), 2);
  const fleet = await stack.get<{ items: Bucket[] }>('/v1/analytics/rollups?scope=fleet&grain=hour');
  assert.equal(sum(fleet.body.items, (b) => b.decisions.total), 4);
  const team = await stack.get<{ items: Bucket[] }>('/v1/analytics/rollups?scope=team&id=beta&grain=day');
  assert.equal(sum(team.body.items, (b) => b.decisions.hold), 1);
  assert.equal(sum(team.body.items, (b) => b.decisions.total), 1);

  // The decision scored: confidence 0.8, a win: Brier (0.8 − 1)² = 0.04.
  const cal = await stack.get<{ n: number; brier: number; bins: { n: number; wins: number }[] }>('/v1/analytics/calibration?scope=agent&id=an-1');
  assert.equal(cal.status, 200, JSON.stringify(cal.body));
  assert.equal(cal.body.n, 1);
  assert.ok(Math.abs(cal.body.brier - 0.04) < 1e-9, `brier ${cal.body.brier}`);
  assert.equal(cal.body.bins.reduce((s, b) => s + b.wins, 0), 1);

  const agents = await stack.get<{ items: { agentId: string; team: string; decisions: number; pnl: number; winRate: number | null }[] }>('/v1/analytics/agents?window=1h');
  const an1 = agents.body.items.find((a) => a.agentId === 'an-1');
  assert.deepEqual(an1 && [an1.team, an1.decisions, an1.pnl, an1.winRate], ['alpha', 3, 25, 1]);
  assert.equal(agents.body.items[0]!.agentId, 'an-1', 'most active first');

  const overview = await stack.get<{ throughput: { decisionsPerMinute: number; series: { decisions: number }[] }; lag: { total: number; projections: { name: string }[] }; agents: number; alerts: unknown[]; indicators: { decisionQuality: { scored: number } } }>('/v1/analytics/overview?window=1h');
  assert.equal(overview.status, 200, JSON.stringify(overview.body));
  assert.equal(overview.body.throughput.decisionsPerMinute, 4 / 60);
  assert.equal(overview.body.throughput.series.reduce((s, p) => s + p.decisions, 0), 4);
  assert.equal(overview.body.agents, 2);
  assert.ok(overview.body.lag.projections.some((p) => p.name === 'analytics_v1'), JSON.stringify(overview.body.lag));
  assert.equal(overview.body.indicators.decisionQuality.scored, 1);
  assert.ok(Array.isArray(overview.body.alerts));

  const ind = await stack.get<{ decisionQuality: { decisions: number; pnl: number } }>('/v1/analytics/indicators?scope=team&id=alpha&window=24h');
  assert.deepEqual([ind.body.decisionQuality.decisions, ind.body.decisionQuality.pnl], [3, 25]);

  const util = await stack.get<{ series: unknown[]; current: { tiers: { warm: { records: number } } }; compactionRatio: number | null }>('/v1/analytics/utilization');
  assert.equal(util.status, 200, JSON.stringify(util.body));
  assert.ok(util.body.current.tiers.warm.records > 0);
  assert.equal(util.body.compactionRatio, null, 'no move applied yet');

  assert.deepEqual((await stack.get<{ items: unknown[] }>('/v1/alerts?state=all')).body.items, []);

  const health = await stack.get<{ totals: { memories: number }; importance: { label: string; count: number }[]; age: { count: number }[]; access: { label: string; count: number }[] }>('/v1/agents/an-1/memory-health');
  assert.equal(health.status, 200, JSON.stringify(health.body));
  assert.equal(health.body.totals.memories, 2);
  assert.deepEqual(health.body.importance.map((b) => b.count), [1, 0, 0, 1]);
  assert.deepEqual(health.body.age.map((b) => b.count), [2, 0, 0, 0]);
  assert.equal(health.body.access[0]!.count, 2);
  const unknown = await stack.get<ErrorBody>('/v1/agents/nobody-here/memory-health');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'UNKNOWN_AGENT');
});
