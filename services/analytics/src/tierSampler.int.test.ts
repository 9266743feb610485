import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyticsSchema, readTierSeries } from '@farmbrain/analytics';
import { readTierMetrics } from '@farmbrain/lifecycle';
import { connectPostgres, COMMON_DEFAULTS, type Pool } from '@farmbrain/platform';
import { publishSession, TestStack, tradingSession, waitFor } from '@farmbrain/testing';
import { pruneBatch } from './rollupStore.js';
import { schemaPools } from './tierSampler.js';

const SAMPLE_MS = 1000;
const DAY = 86_400_000;
// Retention by the defaults (14 d of minute rows, 90 d of tier samples and decisions), pruned every 500 ms, 2 rows
// per DELETE (so the rows below take several batches).
const stack = new TestStack({
  partitions: 2,
  env: { FB_ANALYTICS_TIER_SAMPLE_MS: String(SAMPLE_MS), FB_ALERTS: 'off', FB_ANALYTICS_PRUNE_MS: '500', FB_ANALYTICS_PRUNE_BATCH: '2' },
});
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

/** The raw samples per interval and tier (not through readTierSeries, which folds rows by t). */
async function samplesPerInterval(): Promise<{ interval: number; tier: string; n: number; unaligned: number }[]> {
  const r = await db.query<{ interval: string; tier: string; n: number; unaligned: number }>(
    `SELECT floor(extract(epoch FROM t) * 1000 / $1)::bigint AS interval, tier, count(*)::int AS n,
            count(*) FILTER (WHERE (extract(epoch FROM t) * 1000)::bigint % $1 <> 0)::int AS unaligned
       FROM tier_samples WHERE t > now() - interval '1 hour' GROUP BY 1, 2 ORDER BY 1, 2`, [SAMPLE_MS]);
  return r.rows.map((x) => ({ ...x, interval: Number(x.interval) }));
}

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
  assert.equal(last.t % SAMPLE_MS, 0, 'samples at the start of their interval');
  // Several intervals sampled, each exactly once per tier: a second sample in an interval (at another t) fails here.
  const rows = await waitFor('three sampled intervals', async () => {
    const r = await samplesPerInterval();
    return new Set(r.map((x) => x.interval)).size >= 3 ? r : false;
  }, 30_000, 200);
  assert.deepEqual(rows.filter((x) => x.n !== 1 || x.unaligned !== 0), [], 'one sample per interval and tier, at the interval\'s start');
  const perInterval = new Map<number, string[]>();
  for (const x of rows) perInterval.set(x.interval, [...(perInterval.get(x.interval) ?? []), x.tier]);
  for (const [i, tiers] of perInterval) assert.deepEqual(tiers, ['archive', 'cold', 'hot', 'warm'], `interval ${i}: every tier`);
});

test('analytics - a tiering version\'s pool is closed once another is live, and the rest at shutdown', async () => {
  const ended: string[] = [];
  const pools = schemaPools((s) => ({ schema: s, end: async () => { ended.push(s); } }) as unknown as Pool);
  const a = pools.poolFor('tiering_v1');
  assert.equal(pools.poolFor('tiering_v1'), a, 'one pool per schema');
  pools.poolFor('tiering_v2');
  assert.deepEqual(ended, ['tiering_v1'], 'the retired version\'s pool is closed');
  assert.deepEqual(pools.schemas(), ['tiering_v2']);
  assert.notEqual(pools.poolFor('tiering_v1'), a, 'switching back opens a new pool');
  await pools.close();
  assert.deepEqual(ended, ['tiering_v1', 'tiering_v2', 'tiering_v1']);
  assert.deepEqual(pools.schemas(), []);
});

test('analytics - each partition owner prunes its rows past retention in batches; newer rows, hour and day rows stay', async () => {
  const now = Date.now();
  const minute = (t: number) => new Date(Math.floor(t / 60_000) * 60_000);
  const old = minute(now - 20 * DAY);
  const recent = minute(now - 13 * DAY);
  for (const p of [0, 1]) {
    for (const [grain, bucket] of [['minute', old], ['minute', recent], ['hour', old], ['day', old]] as const) {
      for (let i = 0; i < 3; i++) {
        const id = `retention-${i}`;
        await db.query('INSERT INTO rollups (scope, scope_id, grain, bucket, partition, trades) VALUES ($1, $2, $3, $4, $5, 1)', ['agent', id, grain, bucket, p]);
        await db.query('INSERT INTO rollup_calibration (scope, scope_id, grain, bucket, partition, bin, n) VALUES ($1, $2, $3, $4, $5, 3, 1)', ['agent', id, grain, bucket, p]);
        await db.query('INSERT INTO rollup_latency (scope, scope_id, grain, bucket, partition, bin, n) VALUES ($1, $2, $3, $4, $5, 7, 1)', ['agent', id, grain, bucket, p]);
      }
    }
    for (const at of [now - 100 * DAY, now - 100 * DAY, now - 100 * DAY, now - 80 * DAY, now]) {
      await db.query(`INSERT INTO analytics_decisions (decision_id, agent_id, partition, action, confidence, cited_memories, occurred_at)
                      VALUES (gen_random_uuid(), 'retention', $1, 'buy', 0.5, 0, $2)`, [p, new Date(at)]);
    }
  }
  for (const at of [now - 100 * DAY, now - 100 * DAY - 60_000, now - 80 * DAY]) {
    await db.query("INSERT INTO tier_samples (t, tier, bytes, records) VALUES ($1, 'hot', 1, 1)", [new Date(Math.floor(at / SAMPLE_MS) * SAMPLE_MS)]);
  }
  const left = async () => {
    const r = await db.query<{ what: string; n: number }>(`
      SELECT 'rollups ' || grain || ' ' || partition || ' ' || (bucket < $1) AS what, count(*)::int AS n FROM rollups WHERE scope_id LIKE 'retention-%' GROUP BY 1
      UNION ALL SELECT 'calibration ' || grain || ' ' || partition || ' ' || (bucket < $1), count(*)::int FROM rollup_calibration WHERE scope_id LIKE 'retention-%' GROUP BY 1
      UNION ALL SELECT 'latency ' || grain || ' ' || partition || ' ' || (bucket < $1), count(*)::int FROM rollup_latency WHERE scope_id LIKE 'retention-%' GROUP BY 1
      UNION ALL SELECT 'decisions ' || partition || ' ' || (occurred_at < $2), count(*)::int FROM analytics_decisions WHERE agent_id = 'retention' GROUP BY 1
      UNION ALL SELECT 'tier_samples ' || (t < $2), count(*)::int FROM tier_samples WHERE t < $3 GROUP BY 1`,
    [new Date(now - 14 * DAY), new Date(now - 90 * DAY), new Date(now - DAY)]);
    return Object.fromEntries(r.rows.map((x) => [x.what, x.n]));
  };
  const expected: Record<string, number> = { 'tier_samples false': 1 };
  for (const p of [0, 1]) {
    for (const t of ['rollups', 'calibration', 'latency']) Object.assign(expected, { [`${t} minute ${p} false`]: 3, [`${t} hour ${p} true`]: 3, [`${t} day ${p} true`]: 3 });
    expected[`decisions ${p} false`] = 2;
  }
  // Rows older than retention disappear (in batches of 2: 3 per table and partition); newer ones, and hour and day rows, stay.
  const after = await waitFor('the rows past retention pruned', async () => {
    const l = await left();
    return Object.keys(l).some((k) => k.endsWith(' true') && !k.includes(' hour ') && !k.includes(' day ')) ? false : l;
  }, 30_000, 200);
  assert.deepEqual(after, expected);
});

test('analytics - a decision stays while it is within retention of its partition\'s newest decision (a replay of an old log)', async () => {
  const now = Date.now();
  const p = 7; // no instance owns it: only the prunes below touch it
  const add = (at: number) => db.query(`INSERT INTO analytics_decisions (decision_id, agent_id, partition, action, confidence, cited_memories, occurred_at)
    VALUES (gen_random_uuid(), 'replay', $1, 'buy', 0.5, 0, $2)`, [p, new Date(at)]);
  const count = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM analytics_decisions WHERE agent_id = 'replay' AND partition = $1", [p])).rows[0]!.n;
  const task = { table: 'analytics_decisions' as const, partition: p, before: now - 90 * DAY, retentionMs: 90 * DAY };
  for (let i = 0; i < 5; i++) await add(now - 300 * DAY);
  await add(now - 250 * DAY);
  // The replay has reached 250 days ago: the decisions of 300 days ago are within 90 days of it, they stay.
  assert.equal(await pruneBatch(db, task, 2), 0);
  assert.equal(await count(), 6);
  // It reaches 200 days ago: those of 300 days ago go, 2 rows per DELETE.
  await add(now - 200 * DAY);
  assert.deepEqual([await pruneBatch(db, task, 2), await pruneBatch(db, task, 2), await pruneBatch(db, task, 2), await pruneBatch(db, task, 2)], [2, 2, 1, 0]);
  assert.equal(await count(), 2);
});
