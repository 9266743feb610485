import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { publishSession, redisDigest, TestStack, tradingSession, waitFor, warmDigest } from '@farmbrain/testing';

// The same trading session goes into two deployments: one runs undisturbed, the
// other's tiering is killed with SIGKILL mid-stream (twice) and restarted.
const session = tradingSession({ agents: 20, eventsPerAgent: 300 });
const DECISIONS = session.flat().filter((e) => e.type === 'decision_made').length;
const calm = new TestStack();
const crashy = new TestStack({ env: { FB_TIERING_BATCH: '16' } });

const publishAll = (stack: TestStack) => publishSession(stack.js, stack.names, session, { perMessage: 7 });

before(async () => {
  await Promise.all([calm.connect(), crashy.connect()]);
  await calm.start('ingest');
  await calm.start('tiering');
  await crashy.start('ingest');
  await crashy.start('tiering');
});
after(() => Promise.all([calm.destroy(), crashy.destroy()]));

test('tiering - SIGKILL mid-stream loses nothing and applies nothing twice', async () => {
  await publishAll(calm);
  const publishing = publishAll(crashy);

  // Kill while batches are being applied, twice, and restart each time.
  for (const threshold of [0.25, 0.6]) {
    const before = await waitFor('tiering to be mid-stream', async () => {
      const r = await crashy.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM decisions').catch(() => undefined);
      const n = r?.rows[0]?.n ?? 0;
      return n > threshold * DECISIONS ? n : false;
    }, 60_000, 5);
    assert.equal(await crashy.kill('tiering', 'SIGKILL'), null);
    const n = (await crashy.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM decisions')).rows[0]!.n;
    assert.ok(n >= before && n < DECISIONS, `killed mid-stream (${n} of ${DECISIONS} decisions applied)`);
    await crashy.start('tiering');
  }
  await publishing;
  await Promise.all([calm.caughtUp(), crashy.caughtUp()]);

  const [warmCalm, warmCrashy] = await Promise.all([warmDigest(calm.pool), warmDigest(crashy.pool)]);
  assert.equal(warmCalm.decisions!.rows, DECISIONS, 'the undisturbed run applied every decision');
  assert.ok(warmCalm.positions!.rows > 100 && warmCalm.memory_versions!.rows > 100);
  assert.deepEqual(warmCrashy, warmCalm, 'warm tables: same rows, same content');

  const [hotCalm, hotCrashy] = await Promise.all([redisDigest(calm.redis, calm.names.redisPrefix), redisDigest(crashy.redis, crashy.names.redisPrefix)]);
  assert.ok(hotCalm.keys >= 20 * 3);
  assert.deepEqual(hotCrashy, hotCalm, 'Redis hot state: same keys, same content');
});

test('tiering - replaying the whole log from scratch rebuilds the same stores', async () => {
  // Any store is rebuildable from the log: drop the projection, reset the consumers, replay.
  await crashy.kill('tiering', 'SIGTERM');
  await crashy.pool.query('DROP SCHEMA IF EXISTS ' + crashy.names.pgSchema + ' CASCADE');
  const keys = await crashy.redis.keys(`${crashy.names.redisPrefix}*`);
  if (keys.length) await crashy.redis.del(...keys);
  for (let p = 0; p < crashy.names.partitions; p++) await crashy.jsm.consumers.delete(crashy.names.eventsStream, crashy.names.durable('tiering_v1', p));
  await crashy.start('tiering');
  await crashy.caughtUp();
  assert.deepEqual(await warmDigest(crashy.pool), await warmDigest(calm.pool));
  assert.deepEqual(await redisDigest(crashy.redis, crashy.names.redisPrefix), await redisDigest(calm.redis, calm.names.redisPrefix));
});
