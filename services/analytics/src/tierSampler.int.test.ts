import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyticsSchema, readTierSeries } from '@farmbrain/analytics';
import { readTierMetrics } from '@farmbrain/lifecycle';
import { connectPostgres, COMMON_DEFAULTS, type Pool } from '@farmbrain/platform';
import { publishSession, TestStack, tradingSession, waitFor } from '@farmbrain/testing';

const stack = new TestStack({ partitions: 2, env: { FB_ANALYTICS_TIER_SAMPLE_MS: '1000', FB_ALERTS: 'off' } });
let db: Pool;

before(async () => {
  await stack.connect();
  db = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, analyticsSchema(stack.names), { max: 2 });
  await stack.start('ingest');
  await stack.start('tiering');
  await stack.start('analytics');
});
after(async () => {
  await db?.end();
  await stack.destroy();
});

test('analytics - the tier sampler records the live tiering version\'s tier sizes, one sample per interval', async () => {
  await publishSession(stack.js, stack.names, tradingSession({ agents: 4, eventsPerAgent: 60 }), { perMessage: 10 });
  await stack.caughtUp();
  const now = await readTierMetrics(stack.pool, { redis: stack.redis, prefix: stack.names.redisPrefix });
  assert.ok(now.tiers.warm.records > 100 && now.tiers.hot.bytes > 0, JSON.stringify(now.tiers));
  // A sample taken after the pipeline caught up shows what tiering holds now.
  const series = await waitFor('a sample of what tiering holds', async () => {
    const s = await readTierSeries(db, { from: 0, to: Date.now() + 60_000 }).catch(() => []);
    const last = s.at(-1);
    return last && last.tiers.warm.records === now.tiers.warm.records ? s : false;
  }, 30_000, 200);
  const last = series.at(-1)!;
  assert.equal(last.tiers.warm.bytes, now.tiers.warm.bytes);
  assert.ok(last.tiers.hot.bytes > 0, 'hot bytes from Redis');
  assert.equal(last.t % 1000, 0, 'samples at the start of their interval');
  assert.equal(new Set(series.map((p) => p.t)).size, series.length, 'one sample per interval');
  const rows = await db.query<{ n: number }>('SELECT count(DISTINCT tier)::int AS n FROM tier_samples');
  assert.equal(rows.rows[0]!.n, 4, 'hot, warm, cold and archive');
});
