import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { archiveSchema } from '@farmbrain/archive';
import { connectPostgres, COMMON_DEFAULTS, type Pool } from '@farmbrain/platform';
import { publishSession, redisDigest, TestStack, tradingSession, warmDigest } from '@farmbrain/testing';

// A rebuild reads the archive, then the stream: once the archive holds the log, the stream's oldest messages
// can go, and `farmbrain rebuild` still rebuilds every store from the whole log.
// Segments of 40 messages, sealed by count only here: each partition's tail stays pending in Postgres, which a rebuild reads too.
const stack = new TestStack({ partitions: 4, archive: true, env: { FB_ARCHIVE_SEGMENT_MAX_MESSAGES: '40', FB_ARCHIVE_SEAL_AFTER_MS: '600000' } });
const pools: Pool[] = [];
const url = process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl;


before(async () => {
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering');
  await stack.start('archive');
});
after(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await stack.destroy();
});

test('archive rebuild - with the oldest 70% of the log purged from the stream, rebuild tiering --as tiering.v2 reads it from the archive: v2 stores equal v1', async () => {
  await publishSession(stack.js, stack.names, tradingSession({ agents: 10, eventsPerAgent: 200, seed: 5 }), { perMessage: 3 });
  await stack.caughtUp();
  const archive = await connectPostgres(url, archiveSchema(stack.names), { max: 1 });
  pools.push(archive);
  const counts = (await archive.query<{ sealed: number; pending: number }>(
    'SELECT (SELECT count(*)::int FROM archive_segments) AS sealed, (SELECT count(*)::int FROM archive_pending) AS pending')).rows[0]!;
  assert.ok(counts.sealed >= 4 && counts.pending > 0, `the archive holds segments and pending messages (${JSON.stringify(counts)})`);

  const head = (await stack.jsm.streams.info(stack.names.eventsStream)).state.last_seq;
  const cut = Math.floor(head * 0.7);
  await stack.jsm.streams.purge(stack.names.eventsStream, { seq: cut + 1 });
  const state = (await stack.jsm.streams.info(stack.names.eventsStream)).state;
  assert.equal(state.first_seq, cut + 1, 'the stream no longer holds the oldest messages');

  const rebuilt = await stack.cli(['rebuild', 'tiering', '--as', 'tiering.v2', '--json']);
  assert.equal(rebuilt.code, 0, rebuilt.err);
  const summary = JSON.parse(rebuilt.out.trim().split('\n').pop()!) as { schema: string; redisPrefix: string };
  await stack.caughtUp();
  assert.match(stack.output('tiering'), /"group":"tiering_v2".*"msg":"partition history replayed; the stream follows"/);

  const v2 = await connectPostgres(url, summary.schema, { max: 2 });
  pools.push(v2);
  const [warm1, warm2] = await Promise.all([warmDigest(stack.pool), warmDigest(v2)]);
  assert.ok(warm1.decisions!.rows > 300);
  assert.deepEqual(warm2, warm1, 'warm tables of v2 = v1');
  const hot1 = await redisDigest(stack.redis, stack.names.redisPrefix, { exclude: ['tiering_v2:', 'memdoc:'] });
  const hot2 = await redisDigest(stack.redis, summary.redisPrefix, { exclude: ['memdoc:'] });
  assert.ok(hot1.keys >= 10 * 3);
  assert.deepEqual(hot2, hot1, 'hot state of v2 = v1');
});
