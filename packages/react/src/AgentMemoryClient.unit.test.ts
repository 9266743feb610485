import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentMemoryClient, type AgentMemoryClientOptions } from './AgentMemoryClient.js';
import { backoffDelay } from './backoff.js';
import { GatewayError } from './gatewayError.js';
import { MemoryStorage } from './memoryStorage.js';
import { GatewayDouble } from './testing/gatewayDouble.js';

const clients: AgentMemoryClient[] = [];
const gateways: GatewayDouble[] = [];

/** No timer fires during a test (an hour away): the tests drive probes and flushes themselves. */
function client(gw: GatewayDouble, storage = new MemoryStorage(), o: AgentMemoryClientOptions = {}): AgentMemoryClient {
  const c = new AgentMemoryClient({
    baseUrl: gw.url, storage, onlineEvents: null, probeIntervalMs: 3_600_000, backoff: { firstMs: 3_600_000, maxMs: 3_600_000 }, ...o,
  });
  clients.push(c);
  return c;
}

async function gateway(): Promise<GatewayDouble> {
  const gw = new GatewayDouble();
  await gw.start();
  gateways.push(gw);
  return gw;
}

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
after(async () => {
  for (const g of gateways) await g.stop();
});

test('react client - while the gateway is down, the last known data is shown, offline and stale, also after a reload', async () => {
  const gw = await gateway();
  gw.addMemory('a1', 'BTC funding flips negative before dumps');
  gw.addMemory('a1', 'ETH gas spikes precede volatility');
  const storage = new MemoryStorage();
  const c = client(gw, storage);
  await c.refresh('a1');
  const fresh = c.getSnapshot('a1');
  assert.equal(fresh.status, 'online');
  assert.equal(fresh.stale, false);
  assert.deepEqual(fresh.memories.map((m) => m.text), ['ETH gas spikes precede volatility', 'BTC funding flips negative before dumps']);
  assert.equal(fresh.agent?.agentId, 'a1');

  await gw.stop();
  let changes = 0;
  c.subscribe('a1', () => changes++);
  await c.refresh('a1');
  const down = c.getSnapshot('a1');
  assert.equal(down.status, 'offline');
  assert.equal(down.stale, true);
  assert.equal(down.error?.code, 'GATEWAY_UNREACHABLE');
  assert.deepEqual(down.memories, fresh.memories);
  assert.deepEqual(down.agent, fresh.agent);
  assert.ok(changes > 0, 'subscribers hear that the agent went offline');

  // A reload: a new client on the same Storage shows the last known copy at once, and keeps it when the read fails.
  c.close();
  const reloaded = client(gw, storage);
  const first = reloaded.getSnapshot('a1');
  assert.equal(first.status, 'loading');
  assert.equal(first.stale, true);
  assert.deepEqual(first.memories, fresh.memories);
  await reloaded.refresh('a1');
  const after = reloaded.getSnapshot('a1');
  assert.equal(after.status, 'offline');
  assert.equal(after.stale, true);
  assert.deepEqual(after.memories, fresh.memories);
  assert.equal(after.fetchedAt, fresh.fetchedAt);

  // The gateway answers again: the next probe reads the agent afresh.
  await gw.start();
  gw.addMemory('a1', 'SOL unlocks weigh on price');
  reloaded.subscribe('a1', () => undefined); // shown on a page: a probe that gets an answer reads it again
  assert.equal(await reloaded.probe(), true);
  const back = reloaded.getSnapshot('a1');
  assert.equal(back.status, 'online');
  assert.equal(back.stale, false);
  assert.equal(back.error, undefined);
  assert.equal(back.memories[0]!.text, 'SOL unlocks weigh on price');
});

test('react client - writes made while the gateway is down are kept, then sent in order, once, when it is back', async () => {
  const gw = await gateway();
  gw.addMemory('a2', 'seed');
  const storage = new MemoryStorage();
  const c = client(gw, storage);
  await c.refresh('a2');
  await gw.stop();

  const texts = ['one', 'two', 'three'];
  const written = [];
  for (const text of texts) written.push(await c.remember('a2', { text, kind: 'lesson', tags: ['t'] }));
  assert.deepEqual(written.map((w) => w.queued), [true, true, true]);
  assert.deepEqual(c.getSnapshot('a2').pending.map((p) => p.text), texts);
  assert.equal(c.getSnapshot('a2').status, 'offline');

  // The page is closed and opened again while the gateway is still down: the queue survives in Storage.
  c.close();
  const reloaded = client(gw, storage);
  assert.deepEqual(reloaded.getSnapshot('a2').pending.map((p) => [p.eventId, p.memoryId]), written.map((w) => [w.eventId, w.memoryId]));
  await reloaded.flush();
  assert.equal(reloaded.pending().length, 3, 'nothing is lost while the gateway does not answer');
  assert.equal(gw.received.length, 0);

  await gw.start();
  reloaded.subscribe('a2', () => undefined);
  assert.equal(await reloaded.probe(), true);
  assert.deepEqual(gw.received.map((e) => [e.eventId, e.data.memoryId, e.data.text, e.type]), written.map((w, i) => [w.eventId, w.memoryId, texts[i], 'memory_stored']));
  assert.deepEqual(reloaded.pending(), []);
  assert.deepEqual(reloaded.getSnapshot('a2').pending, []);
  assert.deepEqual(reloaded.getSnapshot('a2').memories.map((m) => m.text), ['three', 'two', 'one', 'seed']);

  // Nothing is sent again: not by another flush, another probe, or a later reload.
  await reloaded.flush();
  await reloaded.probe();
  reloaded.close();
  await client(gw, storage).flush();
  assert.equal(gw.received.length, 3);
});

test('react client - a resend after a lost answer carries the same event id and memory id', async () => {
  const gw = await gateway();
  const c = client(gw);
  gw.loseAnswers = 1;
  const w = await c.remember('a3', { text: 'the answer to this one is lost' });
  assert.equal(w.queued, true, 'no answer: the write stays queued');
  assert.equal(c.pending('a3')[0]?.attempts, 1);
  await c.flush();
  assert.deepEqual(gw.received.map((e) => [e.eventId, e.data.memoryId]), [[w.eventId, w.memoryId], [w.eventId, w.memoryId]]);
  assert.deepEqual(c.pending(), []);
  assert.deepEqual(gw.memories.get('a3')!.map((m) => m.memoryId), [w.memoryId], 'the resend is a duplicate: one memory');
  assert.match(w.eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7');
});

test('react client - a write the gateway refuses (400) is dropped with its reason, never retried, and the queue goes on', async () => {
  const gw = await gateway();
  const c = client(gw);
  await assert.rejects(c.remember('a4', { text: 'INVALID now' }), (err: unknown) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, 'INVALID_EVENT');
    assert.equal(err.status, 400);
    assert.match(err.message, /refused by the test gateway/);
    return true;
  });
  const s = c.getSnapshot('a4');
  assert.deepEqual(s.pending, []);
  assert.equal(s.error?.code, 'INVALID_EVENT');
  assert.match(s.error!.message, /refused and dropped.*refused by the test gateway/);

  // Queued while the gateway is down: the refused one is dropped, the one behind it is sent.
  await gw.stop();
  const bad = await c.remember('a4', { text: 'INVALID later' });
  const good = await c.remember('a4', { text: 'fine' });
  assert.deepEqual([bad.queued, good.queued], [true, true]);
  await gw.start();
  await c.probe();
  await c.flush();
  await c.flush();
  assert.deepEqual(gw.received.map((e) => e.data.text), ['INVALID now', 'INVALID later', 'fine']);
  assert.deepEqual(c.pending(), []);
  assert.equal(c.getSnapshot('a4').error?.eventId, bad.eventId);
});

test("react client - a write the gateway cannot store now (503) stays queued with the gateway's code and message", async () => {
  const gw = await gateway();
  const c = client(gw);
  gw.failWrites = { status: 503, code: 'NATS_UNAVAILABLE', message: 'NATS did not answer; retry shortly' };
  const w = await c.remember('a5', { text: 'later' });
  assert.equal(w.queued, true);
  assert.deepEqual(c.getSnapshot('a5').error, { code: 'NATS_UNAVAILABLE', message: 'NATS did not answer; retry shortly', eventId: w.eventId });
  gw.failWrites = undefined;
  await c.flush();
  assert.deepEqual(c.pending(), []);
  assert.deepEqual(gw.received.map((e) => e.eventId), [w.eventId, w.eventId]);
  assert.deepEqual(gw.memories.get('a5')!.map((m) => m.text), ['later']);
});

test('react client - retries of a write wait longer each time, up to a cap', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelay(n)), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.deepEqual([1, 2, 3].map((n) => backoffDelay(n, { firstMs: 100, maxMs: 250 })), [100, 200, 250]);
});
