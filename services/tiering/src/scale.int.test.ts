import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kvm } from '@nats-io/kv';
import { LEASE_KEYS } from '@farmbrain/contracts';
import type { LeaseRecord } from '@farmbrain/projection';
import { publishSession, redisDigest, TestStack, tradingSession, waitFor, warmDigest } from '@farmbrain/testing';

// The same trading session (20 agents) goes into two deployments: one with a single tiering instance,
// undisturbed; the other scales tiering while the agents publish: 1 instance, then 3, then 2 (one of
// the three killed with SIGKILL). Both must end with the same stores.
const session = tradingSession({ agents: 20, eventsPerAgent: 240 });
const DECISIONS = session.flat().filter((e) => e.type === 'decision_made').length;
const PARTITIONS = 6;
// Short leases keep the test quick; production's default is 6 s.
const env = { FB_LEASE_TTL_MS: '3000', FB_TIERING_BATCH: '16' };
const calm = new TestStack({ partitions: PARTITIONS });
const scaled = new TestStack({ partitions: PARTITIONS, env });

const publishAll = (stack: TestStack, pauseMs = 0) => publishSession(stack.js, stack.names, session, { perMessage: 6, pauseMs });

const decisions = async (s: TestStack) => (await s.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM decisions').catch(() => undefined))?.rows[0]?.n ?? 0;

const owners = (s: TestStack) => s.leaseOwners('tiering_v1');

/** For every agent, its decisions in canonical (application) order carry ascending producer sequences. */
async function assertProducerOrder(s: TestStack): Promise<void> {
  const r = await s.pool.query<{ agent_id: string; seqs: string[] }>('SELECT agent_id, array_agg(producer_seq ORDER BY stream_seq, producer_seq) AS seqs FROM decisions GROUP BY agent_id');
  assert.equal(r.rows.length, 20);
  for (const row of r.rows) {
    const seqs = row.seqs.map(Number);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `agent ${row.agent_id}: decisions applied in producer order`);
  }
}

before(async () => {
  await Promise.all([calm.connect(), scaled.connect()]);
  await calm.start('ingest');
  await calm.start('tiering');
  await scaled.start('ingest');
});
after(() => Promise.all([calm.destroy(), scaled.destroy()]));

test('tiering scale-out - 1, then 3, then 2 instances (one killed with SIGKILL) while 20 agents publish: nothing lost, nothing applied twice, same stores as one undisturbed instance', async () => {
  await publishAll(calm);
  await scaled.start('tiering', {}, { instance: 'tiering-1' });
  assert.deepEqual(new Set(await owners(scaled)), new Set(['tiering-1']), 'alone, one instance owns every partition');
  // Paced over about 25 s, so the scaling happens while the agents publish.
  const publishing = publishAll(scaled, 600);

  await waitFor('some decisions applied by one instance', async () => (await decisions(scaled)) > DECISIONS * 0.15, 60_000, 20);
  await scaled.start('tiering', {}, { instance: 'tiering-2' });
  await scaled.start('tiering', {}, { instance: 'tiering-3' });
  const three = await waitFor('three instances sharing the partitions', async () => {
    const o = await owners(scaled);
    const counts = ['tiering-1', 'tiering-2', 'tiering-3'].map((id) => o.filter((x) => x === id).length);
    return counts.every((c) => c === 2) ? o : false;
  }, 30_000, 100);

  // Kill one of the three while batches are being applied.
  const before = await decisions(scaled);
  assert.ok(before < DECISIONS, `still mid-stream when three instances run (${before} of ${DECISIONS})`);
  const victimHad = three.map((o, p) => (o === 'tiering-2' ? p : -1)).filter((p) => p >= 0);
  assert.equal(await scaled.kill('tiering-2', 'SIGKILL'), null);
  const killedAt = Date.now();
  const atKill = await decisions(scaled);
  assert.ok(atKill < DECISIONS, `killed mid-stream (${atKill} of ${DECISIONS} decisions applied)`);
  await waitFor('the survivors to take the dead instance\'s partitions', async () => {
    const o = await owners(scaled);
    return victimHad.every((p) => o[p] === 'tiering-1' || o[p] === 'tiering-3');
  }, 30_000, 100);
  const takeoverMs = Date.now() - killedAt;
  assert.ok(takeoverMs < 3000 * 2 + 2000, `taken over within the lease TTL plus a round (${takeoverMs} ms)`);
  // Then the two rebalance to three partitions each (moves drain first: a partition may be free for a moment).
  await waitFor('two fair shares', async () => {
    const o = await owners(scaled);
    return o.filter((x) => x === 'tiering-1').length === 3 && o.filter((x) => x === 'tiering-3').length === 3;
  }, 30_000, 100);

  const stillPublishing = await Promise.race([publishing.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 0))]);
  assert.ok(stillPublishing, 'the agents were still publishing when the survivors took over');
  await publishing;
  await Promise.all([calm.caughtUp(), scaled.caughtUp()]);
  const [warmCalm, warmScaled] = await Promise.all([warmDigest(calm.pool), warmDigest(scaled.pool)]);
  assert.equal(warmCalm.decisions!.rows, DECISIONS, 'the undisturbed run applied every decision');
  assert.deepEqual(warmScaled, warmCalm, 'warm tables: same rows, same content');
  const [hotCalm, hotScaled] = await Promise.all([redisDigest(calm.redis, calm.names.redisPrefix), redisDigest(scaled.redis, scaled.names.redisPrefix)]);
  assert.ok(hotCalm.keys >= 20 * 3);
  assert.deepEqual(hotScaled, hotCalm, 'Redis hot state: same keys, same content');
  await assertProducerOrder(scaled);
});

test('tiering fencing - an instance paused (SIGSTOP) past its lease, whose partitions another took over, commits nothing when it resumes', async () => {
  // tiering-1 and tiering-3 share the partitions. Pause tiering-1 while the agents publish.
  await scaled.pool.query('TRUNCATE decisions, trades, position_closes, positions, checkpoints, memories, memory_versions, agents, projection_events, projection_dead_letters, rejected_writes');
  await scaled.kill('tiering-3', 'SIGTERM');
  await scaled.kill('tiering-1', 'SIGTERM');
  // Start over from an empty warm store with the whole log replayed, to compare with the calm stack again.
  await scaled.pool.query('DELETE FROM projection_checkpoints');
  for (const k of await scaled.redis.keys(`${scaled.names.redisPrefix}*`)) await scaled.redis.del(k);
  for (let p = 0; p < PARTITIONS; p++) await scaled.jsm.consumers.delete(scaled.names.eventsStream, scaled.names.durable('tiering_v1', p)).catch(() => undefined);
  await scaled.start('tiering', {}, { instance: 'tiering-1' });
  await scaled.start('tiering', {}, { instance: 'tiering-3' });
  await waitFor('two instances sharing', async () => {
    const o = await owners(scaled);
    return o.filter((x) => x === 'tiering-1').length === 3 && o.filter((x) => x === 'tiering-3').length === 3;
  }, 30_000, 100);
  const mine = (await owners(scaled)).map((o, p) => (o === 'tiering-1' ? p : -1)).filter((p) => p >= 0);

  scaled.signal('tiering-1', 'SIGSTOP');
  try {
    // The other instance takes the paused one's partitions once its leases expire, and applies them.
    await waitFor('tiering-3 to own every partition', async () => (await owners(scaled)).every((o) => o === 'tiering-3'), 30_000, 100);
  } finally {
    scaled.signal('tiering-1', 'SIGCONT');
  }
  await waitFor('the resumed instance to see its leases lost', () => (scaled.output('tiering-1').match(/partition lease lost/g) ?? []).length >= mine.length, 20_000, 100);
  await scaled.caughtUp();
  const [warmCalm, warmScaled] = await Promise.all([warmDigest(calm.pool), warmDigest(scaled.pool)]);
  assert.deepEqual(warmScaled, warmCalm, 'warm tables: same rows, same content');
  assert.deepEqual(await redisDigest(scaled.redis, scaled.names.redisPrefix), await redisDigest(calm.redis, calm.names.redisPrefix));
  // Every checkpoint was last written under the epoch of the lease that holds it now.
  const cps = await scaled.pool.query<{ partition: number; epoch: string }>("SELECT partition, epoch FROM projection_checkpoints WHERE projection = 'tiering.v1'");
  const kv = await new Kvm(scaled.nc).open(scaled.names.leaseBucket);
  for (const r of cps.rows) {
    const e = await kv.get(LEASE_KEYS.lease('tiering_v1', r.partition));
    assert.equal(Number(r.epoch), e!.json<LeaseRecord>().epoch, `partition ${r.partition}: checkpoint epoch = current lease epoch`);
  }
});
