import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectPostgres, COMMON_DEFAULTS, type Pool } from '@farmbrain/platform';
import { publishEvents, redisDigest, TestStack, tradingSession, waitFor, warmDigest } from '@farmbrain/testing';

// Blue/green: tiering.v2 is rebuilt from the log by the running tiering instance while agents keep writing,
// then readers switch to it, then tiering.v1 is dropped. Run through the real CLI, on a real stack.
const session = tradingSession({ agents: 10, eventsPerAgent: 300, seed: 11 });
const stack = new TestStack({ partitions: 4 });
let v2: Pool | undefined;


async function publish(from: number, to: number, pauseMs = 0): Promise<void> {
  for (let i = from; i < to; i += 10) {
    await Promise.all(session.map((evs) => (evs.length > i ? publishEvents(stack.js, stack.names, evs.slice(i, Math.min(i + 10, to))) : undefined)));
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** What the gateway answers for every agent: its state and all its decisions. */
async function answers(): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let a = 0; a < session.length; a++) {
    const id = session[a]![0]!.agentId;
    const state = await stack.get<Record<string, unknown>>(`/v1/agents/${id}`);
    assert.equal(state.status, 200);
    out.push({ ...state.body, source: undefined }, await stack.all(`/v1/agents/${id}/decisions`), await stack.all(`/v1/agents/${id}/trades`));
  }
  return out;
}

before(async () => {
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering');
  await stack.start('gateway');
});
after(async () => {
  await v2?.end();
  await stack.destroy();
});

test('blue/green - rebuild tiering.v2 while agents write, switch readers to it, drop tiering.v1: same answers, same stores', async () => {
  await publish(0, 150);
  await stack.caughtUp();
  const writing = publish(150, 300, 500);
  const headAt = async () => (await stack.jsm.streams.info(stack.names.eventsStream)).state.last_seq;
  const atRebuild = await headAt();
  const rebuilt = await stack.cli(['rebuild', 'tiering', '--as', 'tiering.v2', '--json']);
  assert.equal(rebuilt.code, 0, rebuilt.err);
  const summary = JSON.parse(rebuilt.out.trim().split('\n').pop()!) as { version: string; schema: string; redisPrefix: string; messages: number; events: number; eventsPerSecond: number; live: string };
  assert.equal(summary.live, 'tiering.v1', 'readers stay on the live version during the rebuild');
  assert.ok(summary.messages > 0);
  // Events counted by the instances (lease records): at least what was published before the rebuild began.
  assert.ok(summary.events >= 10 * 150 && summary.events <= 10 * 300 && summary.eventsPerSecond > 0, JSON.stringify(summary));
  await writing;
  assert.ok(summary.messages > atRebuild && (await headAt()) > atRebuild, `the agents kept writing while v2 was rebuilt (log at ${atRebuild} when it began, ${summary.messages} when it caught up)`);
  await stack.caughtUp();

  // The rebuilt stores equal the live ones: every warm table, and the hot state.
  v2 = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, summary.schema, { max: 2 });
  const [warm1, warm2] = await Promise.all([warmDigest(stack.pool), warmDigest(v2)]);
  assert.ok(warm1.decisions!.rows > 500);
  assert.deepEqual(warm2, warm1, 'warm tables of v2 = v1');
  const hot1 = await redisDigest(stack.redis, stack.names.redisPrefix, { exclude: ['tiering_v2:', 'memdoc:'] });
  const hot2 = await redisDigest(stack.redis, summary.redisPrefix, { exclude: ['memdoc:'] });
  assert.ok(hot1.keys >= 10 * 3);
  assert.deepEqual(hot2, hot1, 'hot state of v2 = v1');

  const before = await answers();
  const switched = await stack.cli(['switch', 'tiering', 'tiering.v2', '--json']);
  assert.equal(switched.code, 0, switched.err);
  assert.equal((JSON.parse(switched.out) as { gatewayServing: string }).gatewayServing, 'tiering.v2', 'the gateway serves v2, without a restart');
  assert.deepEqual(await answers(), before, 'the gateway answers the same from v2');

  // v2 is live: a new write is applied there and read back through the gateway at once (consistency token).
  const agentId = session[0]![0]!.agentId;
  const w = await stack.post<{ consistencyToken: string }>(`/v1/agents/${agentId}/memories`, { kind: 'lesson', text: 'after the switch', tags: ['bluegreen'] });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  const r = await stack.post<{ hits: { memory: { text: string } | null }[] }>(`/v1/agents/${agentId}/recall`, { query: 'after the switch', consistency: w.body.consistencyToken });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.body.hits.some((h) => h.memory?.text === 'after the switch'), JSON.stringify(r.body));
  assert.equal((await v2.query("SELECT count(*)::int AS n FROM memories WHERE text = 'after the switch'")).rows[0].n, 1);

  // The live version cannot be dropped; the old one can, and nothing of it is left.
  const refused = await stack.cli(['drop', 'tiering.v2', '--json']);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /VERSION_LIVE/);
  const dropped = await stack.cli(['drop', 'tiering.v1', '--json']);
  assert.equal(dropped.code, 0, dropped.err);
  assert.equal((await v2.query('SELECT to_regnamespace($1) AS s', [stack.names.pgSchema])).rows[0].s, null, 'v1 schema dropped');
  assert.equal((await redisDigest(stack.redis, stack.names.redisPrefix, { exclude: ['tiering_v2:'] })).keys, 0, 'v1 hot keys deleted');
  const after = await stack.get(`/v1/agents/${agentId}`);
  assert.equal(after.status, 200, 'the gateway still serves (from v2)');
  await waitFor('tiering to stop applying v1', () => stack.output('tiering').includes('projection version stopped here (dropped)'), 10_000);
});
