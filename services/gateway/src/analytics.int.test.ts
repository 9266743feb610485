import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyticsSchema, readRecallLatency, readRecallP95 } from '@farmbrain/analytics';
import { COMMON_DEFAULTS, connectPostgres, quoteIdent, type Pool } from '@farmbrain/platform';
import { TestStack } from '@farmbrain/testing';
import { AnalyticsReads, MAX_UTILIZATION_POINTS } from './analytics/analyticsReads.js';

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

  const overview = await stack.get<{ throughput: { decisionsPerMinute: number; series: { decisions: number }[] }; lag: { total: number; projections: { name: string }[] }; agents: number; alerts: unknown[]; activeAlerts: number; indicators: { decisionQuality: { scored: number } } }>('/v1/analytics/overview?window=1h');
  assert.equal(overview.status, 200, JSON.stringify(overview.body));
  assert.equal(overview.body.throughput.decisionsPerMinute, 4 / 60);
  assert.equal(overview.body.throughput.series.reduce((s, p) => s + p.decisions, 0), 4);
  assert.equal(overview.body.agents, 2);
  assert.ok(overview.body.lag.projections.some((p) => p.name === 'analytics_v1'), JSON.stringify(overview.body.lag));
  assert.equal(overview.body.indicators.decisionQuality.scored, 1);
  assert.ok(Array.isArray(overview.body.alerts));
  assert.equal(overview.body.activeAlerts, 0);

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

const T0 = Date.UTC(2020, 0, 1);
const MIN = 60_000;
const HOUR = 3_600_000;

/** An empty copy of the analytics schema's tables, for reads at a fixed time over figures the test writes (dropped with the namespace). */
async function scratchAnalytics(): Promise<{ pool: Pool; reads: AnalyticsReads }> {
  const src = analyticsSchema(stack.names);
  const dst = `${stack.names.pgSchema}_scratch`;
  await stack.pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(dst)}`);
  const tables = await stack.pool.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'", [src]);
  assert.ok(tables.rows.some((r) => r.t === 'rollups'), 'the analytics schema has its tables');
  for (const { t } of tables.rows) await stack.pool.query(`CREATE TABLE IF NOT EXISTS ${quoteIdent(dst)}.${quoteIdent(t)} (LIKE ${quoteIdent(src)}.${quoteIdent(t)} INCLUDING ALL)`);
  const pool = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, dst, { max: 2 });
  const reads = new AnalyticsReads({
    pool, schema: dst, jsm: async () => stack.jsm, names: stack.names,
    tierMetrics: () => Promise.reject(new Error('not used')), now: () => T0 + 15 * MIN + 30_000,
  });
  return { pool, reads };
}

/** One fleet rollup row (partition 0). */
const rollup = (pool: Pool, grain: string, bucket: number, c: { buy?: number; recalls?: number; writes?: number }) =>
  pool.query('INSERT INTO rollups (scope, scope_id, grain, bucket, partition, decisions_buy, recalls, memory_writes) VALUES ($1, $2, $3, $4, 0, $5, $6, $7)',
    ['fleet', '', grain, new Date(bucket), c.buy ?? 0, c.recalls ?? 0, c.writes ?? 0]);

test('analytics - eventsPerMinute and recall latency read whole aligned buckets (not the partial one before the window) per minute of the span they cover; activeAlerts is the true count', async () => {
  const { pool, reads } = await scratchAnalytics();
  try {
    // Minute buckets T0 + k min, k = 0..15: k + 1 buy decisions and 2 recalls each.
    for (let k = 0; k <= 15; k++) await rollup(pool, 'minute', T0 + k * MIN, { buy: k + 1, recalls: 2 });
    // 15 minutes ending at T0 + 15 m 30 s: the buckets k = 1..15 (bucket 0 started before the window); 15 minutes of them.
    const now = T0 + 15 * MIN + 30_000;
    const t15 = await reads.throughput('15m', now);
    assert.deepEqual([t15.from, t15.to], [T0 + MIN, T0 + 16 * MIN]);
    assert.deepEqual(t15.series.map((p) => p.t), Array.from({ length: 15 }, (_, i) => T0 + (i + 1) * MIN));
    const decisions = 135; // 2 + 3 + … + 16 (the old read added bucket 0 too: 136 over 15 minutes)
    assert.equal(t15.decisionsPerMinute, decisions / 15);
    assert.equal(t15.eventsPerMinute, (decisions + 15 * 2) / 15);
    // At the hour grain (24h): hourly buckets T0 + h h, h = 0..24, 1 decision each; 24 h ending at T0 + 24 h 30 m read h = 1..24.
    for (let h = 0; h <= 24; h++) await rollup(pool, 'hour', T0 + h * HOUR, { buy: 1, writes: 1 });
    const t24 = await reads.throughput('24h', T0 + 24 * HOUR + 30 * MIN);
    assert.deepEqual([t24.from, t24.to, t24.series.length], [T0 + HOUR, T0 + 25 * HOUR, 24]);
    assert.equal(t24.decisionsPerMinute, 24 / 1440);
    assert.equal(t24.eventsPerMinute, 48 / 1440);

    // Recall latency: 5 recalls in bin 10 in bucket 0 (before the window), 3 in bin 20 in bucket 5 (in it).
    for (const [k, bin, n] of [[0, 10, 5], [5, 20, 3]] as const) {
      await pool.query("INSERT INTO rollup_latency (scope, scope_id, grain, bucket, partition, bin, n) VALUES ('fleet', '', 'minute', $1, 0, $2, $3)", [new Date(T0 + k * MIN), bin, n]);
      await pool.query("INSERT INTO rollup_latency (scope, scope_id, grain, bucket, partition, bin, n) VALUES ('agent', 'lat-1', 'minute', $1, 0, $2, $3)", [new Date(T0 + k * MIN), bin, 1]);
    }
    const lat = await reads.recallLatency('15m', now);
    assert.equal(lat.n, 3);
    assert.ok(lat.p50! >= 2 ** 9.5 && lat.p50! <= 2 ** 10, `p50 ${lat.p50} in bin 20`);
    // The one histogram read behind both the overview and the alert rule (which reads the buckets overlapping its window).
    assert.deepEqual(await readRecallLatency(pool, { from: T0 + MIN, to: T0 + 16 * MIN, scope: 'fleet', id: '' }), lat);
    assert.equal((await readRecallLatency(pool, { from: T0, to: T0 + 15 * MIN, scope: 'agent', id: 'lat-1' })).n, 2);
    assert.deepEqual(await readRecallP95(pool, { from: T0 + 30_000, to: T0 + 6 * MIN }), { p95: (await readRecallLatency(pool, { from: T0 + 30_000, to: T0 + 6 * MIN, scope: 'fleet', id: '' })).p95, n: 8 });

    // 105 alerts firing and 3 resolved: the overview lists 100, and counts 105.
    const insertAlert = (i: number, state: 'firing' | 'resolved') => pool.query(
      `INSERT INTO alerts (alert_id, rule, metric, severity, subject, agent_id, partition, state, threshold, value, message, fired_at, resolved_at, fired_seq, resolved_seq)
       VALUES (gen_random_uuid(), 'test-rule', 'win_rate_drop', 'warning', $1, $1, 0, $2, 0.4, 0.2, 'test', $3, $4, $5, $6)`,
      [`agent-${state}-${i}`, state, new Date(T0 + i * 1000), state === 'resolved' ? new Date(T0 + HOUR) : null, i + 1, state === 'resolved' ? i + 1000 : null]);
    for (let i = 0; i < 105; i++) await insertAlert(i, 'firing');
    for (let i = 0; i < 3; i++) await insertAlert(i, 'resolved');
    const o = await reads.overview('15m');
    assert.equal(o.alerts.length, 100);
    assert.equal(o.activeAlerts, 105);
    assert.deepEqual([o.throughput.decisionsPerMinute, o.recallLatency.n], [decisions / 15, 3]);
  } finally {
    await pool.end();
  }
});

test('analytics - utilization downsamples long ranges to at most 500 points (the last sample of each stepMs bucket) and says stepMs', async () => {
  // A week of minute samples (two tiers each), ending a day ago (within any retention, before the sampler's own): 10080 samples.
  const minutes = 7 * 24 * 60;
  const T0 = Math.floor((Date.now() - 8 * 24 * HOUR) / MIN) * MIN;
  await stack.pool.query(
    `INSERT INTO ${quoteIdent(analyticsSchema(stack.names))}.tier_samples (t, tier, bytes, records)
     SELECT to_timestamp(($1::bigint + i * 60000) / 1000.0), tier, i, i FROM generate_series(0, $2::int - 1) i, unnest(ARRAY['warm', 'cold']) tier`,
    [T0, minutes]);
  type Util = { from: number; to: number; stepMs: number; series: { t: number; tiers: { warm: { bytes: number }; cold: { records: number }; hot: { bytes: number } } }[] };
  const week = await stack.get<Util>(`/v1/analytics/utilization?from=${new Date(T0).toISOString()}&to=${new Date(T0 + 7 * 24 * HOUR).toISOString()}`);
  assert.equal(week.status, 200, JSON.stringify(week.body));
  const { stepMs, series } = week.body;
  // ceil(7 d / 499 / 1 min) = 21 minutes.
  assert.equal(stepMs, 21 * MIN);
  assert.ok(series.length <= MAX_UTILIZATION_POINTS && series.length >= 450, `${series.length} points`);
  const stepOf = (t: number) => Math.floor(t / stepMs);
  assert.equal(series.length, stepOf(T0 + (minutes - 1) * MIN) - stepOf(T0) + 1, 'one point per step holding samples');
  // Each point is the last sample of its epoch-aligned step: the sample just before the next multiple of stepMs (or the range's last).
  for (const [i, p] of series.entries()) {
    const next = Math.min((Math.floor(p.t / stepMs) + 1) * stepMs, T0 + minutes * MIN);
    assert.equal(p.t, next - MIN, `point ${i}`);
    assert.equal(p.tiers.warm.bytes, (p.t - T0) / MIN);
    assert.equal(p.tiers.cold.records, (p.t - T0) / MIN);
    assert.equal(p.tiers.hot.bytes, 0);
  }
  assert.deepEqual(series.map((p) => p.t), [...series.map((p) => p.t)].sort((a, b) => a - b));
  // A short range keeps every minute sample.
  const hour = await stack.get<Util>(`/v1/analytics/utilization?from=${new Date(T0).toISOString()}&to=${new Date(T0 + HOUR).toISOString()}`);
  assert.equal(hour.body.stepMs, MIN);
  assert.equal(hour.body.series.length, 60);
});
