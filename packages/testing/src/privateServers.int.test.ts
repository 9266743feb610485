import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connectNats, connectPostgres, connectRedis, migrate } from '@farmbrain/platform';
import { PrivateNats, PrivatePostgres, PrivateRedis } from './privateServers.js';

const MIGRATIONS = fileURLToPath(new URL('../../../packages/store/migrations/', import.meta.url));

const nats = await PrivateNats.create();
const redis = await PrivateRedis.create();
const postgres = await PrivatePostgres.create();
after(() => Promise.allSettled([nats.destroy(), redis.destroy(), postgres.destroy()]));

test('privateServers - NATS: a JetStream stream and its messages survive a restart with the same store dir; a SIGKILLed server starts again', async () => {
  await nats.start();
  assert.notEqual(nats.port, 4222, 'never the shared server');
  let nc = await connectNats(nats.url, 'private-nats-test');
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
  const js = jetstream(nc);
  for (let i = 0; i < 10; i++) await js.publish(`keep.${i}`, new TextEncoder().encode(`m${i}`), { msgID: `id-${i}` });
  await nc.close();

  const pid = nats.pid;
  await nats.restart();
  assert.ok(nats.pid && nats.pid !== pid, 'a new server process');
  nc = await connectNats(nats.url, 'private-nats-test');
  const info = await (await jetstreamManager(nc)).streams.info('KEEP');
  assert.equal(info.state.messages, 10, 'every stored message is still there');
  const dup = await jetstream(nc).publish('keep.0', new TextEncoder().encode('again'), { msgID: 'id-0' });
  assert.equal(dup.duplicate, true, 'the dedupe window survives too');
  await nc.close();

  await nats.kill();
  assert.equal(nats.running, false);
  await assert.rejects(connectNats(nats.url, 'private-nats-test', { timeoutMs: 500 }), 'nothing answers after SIGKILL');
  await nats.start();
  nc = await connectNats(nats.url, 'private-nats-test');
  assert.ok(await (await jetstreamManager(nc)).streams.info('KEEP'), 'the stream is recovered after a crash');
  await nc.close();
});

test('privateServers - Redis: restartEmpty brings it back on the same port with nothing in it', async () => {
  await redis.start();
  assert.notEqual(redis.port, 6379, 'never the shared server');
  const r = await connectRedis(redis.url, 'private-redis-test');
  await r.set('k', 'v');
  assert.equal(await r.get('k'), 'v');
  r.disconnect();

  await redis.stop();
  assert.equal(await redis.ping(), false, 'down between stop and start');
  await redis.start();
  const r2 = await connectRedis(redis.url, 'private-redis-test');
  assert.equal(await r2.dbsize(), 0, 'empty after the restart');
  r2.disconnect();

  await redis.restartEmpty();
  assert.equal(await redis.ping(), true);
});

test('privateServers - Postgres: initdb as the postgres user, the tiering migrations (btree_gin) apply, rows survive stop/start, and a stopped server refuses connections', async () => {
  await postgres.start();
  assert.notEqual(postgres.port, 5432, 'never the shared server');
  let pool = await connectPostgres(postgres.url, 'fb_private_test', { max: 2 });
  const applied = await migrate(pool, 'fb_private_test', MIGRATIONS);
  assert.ok(applied.includes('002_recall.sql'), `migrations applied: ${applied.join(', ')}`);
  const ext = await pool.query(`SELECT extname FROM pg_extension WHERE extname = 'btree_gin'`);
  assert.equal(ext.rowCount, 1, 'btree_gin is installed');
  await pool.query(`INSERT INTO agents (agent_id, first_seen_at, last_event_at) VALUES ('a-1', now(), now())`);
  await pool.end();

  await postgres.stop();
  assert.equal(postgres.running, false);
  assert.equal(await postgres.isReady(), false);
  await assert.rejects(connectPostgres(postgres.url, 'fb_private_test', { max: 1 }), 'a stopped server refuses connections');

  await postgres.start();
  pool = await connectPostgres(postgres.url, 'fb_private_test', { max: 2 });
  const r = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM agents');
  assert.equal(r.rows[0]!.n, 1, 'the row survives a restart');
  await pool.end();

  const dir = postgres.dir;
  await postgres.destroy();
  assert.equal(existsSync(dir), false, 'destroy removes the cluster');
  assert.equal(await postgres.isReady(), false, 'and nothing listens any more');
});
