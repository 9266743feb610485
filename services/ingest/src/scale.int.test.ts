import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, HEADERS } from '@farmbrain/contracts';
import { publishSession, redisDigest, TestStack, tradingSession, waitFor, warmDigest } from '@farmbrain/testing';

// The same trading session (20 agents) goes into two deployments: one with a single ingest instance,
// undisturbed; the other runs ingest as 1, then 2 instances, kills one with SIGKILL mid-stream and starts
// it again. The canonical log each builds must carry every agent's events once, in the agent's order.
const session = tradingSession({ agents: 20, eventsPerAgent: 200, seed: 7 });
const PARTITIONS = 4;
const env = { FB_LEASE_TTL_MS: '3000', FB_INGEST_BATCH: '8' };
const calm = new TestStack({ partitions: PARTITIONS });
const scaled = new TestStack({ partitions: PARTITIONS, env });

const publishAll = (stack: TestStack, pauseMs = 0) => publishSession(stack.js, stack.names, session, { perMessage: 5, pauseMs });

const owners = (s: TestStack) => s.leaseOwners('ingest');

/** The canonical log per agent subject: event ids in log order, and the ingress sequences of its messages. */
async function canonicalLog(s: TestStack): Promise<{ events: Map<string, string[]>; ingress: Map<string, number[]> }> {
  const events = new Map<string, string[]>();
  const ingress = new Map<string, number[]>();
  const last = (await s.jsm.streams.info(s.names.eventsStream)).state.last_seq;
  for (let seq = 1; seq <= last; seq++) {
    const m = await s.jsm.streams.getMessage(s.names.eventsStream, { seq });
    if (!m) continue;
    const agent = m.subject.slice(m.subject.lastIndexOf('.') + 1);
    if (!events.has(agent)) (events.set(agent, []), ingress.set(agent, []));
    ingress.get(agent)!.push(Number(m.header.get(HEADERS.ingressSeq)));
    for (const e of decodeBatch(m.data)) events.get(agent)!.push(e.event!.eventId);
  }
  return { events, ingress };
}

before(async () => {
  await Promise.all([calm.connect(), scaled.connect()]);
  await calm.start('ingest');
  await calm.start('tiering');
  await scaled.start('tiering');
});
after(() => Promise.all([calm.destroy(), scaled.destroy()]));

test('ingest scale-out - 1, then 2 instances (one killed with SIGKILL and restarted) while 20 agents publish: each agent\'s events once, in order, same stores', async () => {
  await publishAll(calm);
  await scaled.start('ingest', {}, { instance: 'ingest-1' });
  const publishing = publishAll(scaled, 400);
  await waitFor('some messages forwarded', async () => (await scaled.jsm.streams.info(scaled.names.eventsStream)).state.messages > 100, 30_000, 50);
  await scaled.start('ingest', {}, { instance: 'ingest-2' });
  await waitFor('two instances sharing', async () => {
    const o = await owners(scaled);
    return o.filter((x) => x === 'ingest-1').length === 2 && o.filter((x) => x === 'ingest-2').length === 2;
  }, 30_000, 100);
  const forwarded = (await scaled.jsm.streams.info(scaled.names.eventsStream)).state.messages;
  assert.equal(await scaled.kill('ingest-1', 'SIGKILL'), null);
  const ingressNow = (await scaled.jsm.streams.info(scaled.names.ingressStream)).state.messages;
  assert.ok(forwarded < session.flat().length / 5, `killed mid-stream (${forwarded} canonical messages, ${ingressNow} ingress)`);
  await waitFor('ingest-2 takes everything', async () => (await owners(scaled)).every((o) => o === 'ingest-2'), 30_000, 100);
  await scaled.start('ingest', {}, { instance: 'ingest-1' });
  await publishing;
  await Promise.all([calm.caughtUp(), scaled.caughtUp()]);

  const [a, b] = await Promise.all([canonicalLog(calm), canonicalLog(scaled)]);
  assert.equal(b.events.size, 20);
  for (const [agent, ids] of a.events) {
    assert.deepEqual(b.events.get(agent), ids, `agent ${agent}: the same events, once each, in the same order`);
    const seqs = b.ingress.get(agent)!;
    assert.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y), `agent ${agent}: ingress messages once each, ascending`);
  }
  assert.deepEqual(await warmDigest(scaled.pool), await warmDigest(calm.pool));
  assert.deepEqual(await redisDigest(scaled.redis, scaled.names.redisPrefix), await redisDigest(calm.redis, calm.names.redisPrefix));
});
