import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestStack } from '@farmbrain/testing';
import { AgentMemoryClient } from './AgentMemoryClient.js';
import { MemoryStorage } from './memoryStorage.js';

const stack = new TestStack();
const AGENT = 'react-1';
let client: AgentMemoryClient;

type Listed = { memoryId: string; text: string };
const memoriesOf = async (agentId: string) => (await stack.all<Listed>(`/v1/agents/${agentId}/memories`)).map((m) => m.text).sort();

before(async () => {
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering');
  await stack.start('gateway');
  const r = await stack.post('/v1/events', { events: [{ agentId: AGENT, type: 'agent_registered', data: { name: 'React agent', team: 'web' } }] });
  assert.equal(r.status, 202);
  await stack.caughtUp();
  // The page's origin is the gateway's: relative URLs go to wherever it listens now (it gets a new port when restarted).
  client = new AgentMemoryClient({
    baseUrl: '',
    fetch: (path, init) => fetch(`${stack.gatewayUrl}${path}`, init),
    storage: new MemoryStorage(),
    onlineEvents: null,
    // The test drives probes and flushes itself: no timer fires during it.
    probeIntervalMs: 3_600_000,
    backoff: { firstMs: 3_600_000, maxMs: 3_600_000 },
  });
});
after(async () => {
  client?.close();
  await stack.destroy();
});

test('react client - with the real stack: cached reads while the gateway is down, queued writes appear exactly once when it is back', async () => {
  const first = await client.remember(AGENT, { text: 'BTC funding flips negative before dumps', kind: 'lesson', tags: ['btc'] });
  assert.equal(first.queued, false);
  await stack.caughtUp();
  client.subscribe(AGENT, () => undefined);
  await client.refresh(AGENT);
  const online = client.getSnapshot(AGENT);
  assert.equal(online.status, 'online');
  assert.equal(online.agent?.name, 'React agent');
  assert.deepEqual(online.memories.map((m) => m.memoryId), [first.memoryId]);

  await stack.kill('gateway');
  await client.refresh(AGENT);
  const offline = client.getSnapshot(AGENT);
  assert.equal(offline.status, 'offline');
  assert.equal(offline.stale, true);
  assert.equal(offline.error?.code, 'GATEWAY_UNREACHABLE');
  assert.deepEqual(offline.memories, online.memories, 'the last known memories are still shown');
  assert.deepEqual(offline.agent, online.agent);

  const second = await client.remember(AGENT, { text: 'ETH gas spikes precede volatility', importance: 0.9 });
  const third = await client.remember(AGENT, { text: 'SOL unlocks weigh on price', kind: 'fact' });
  assert.deepEqual([second.queued, third.queued], [true, true]);
  assert.deepEqual(client.getSnapshot(AGENT).pending.map((p) => p.eventId), [second.eventId, third.eventId]);

  await stack.start('gateway');
  assert.equal(await client.probe(), true);
  assert.deepEqual(client.pending(), []);
  await stack.caughtUp();
  await client.refresh(AGENT);
  const back = client.getSnapshot(AGENT);
  assert.equal(back.status, 'online');
  assert.equal(back.stale, false);
  assert.deepEqual(back.memories.map((m) => m.memoryId).sort(), [first.memoryId, second.memoryId, third.memoryId].sort());
  assert.deepEqual(await memoriesOf(AGENT), ['BTC funding flips negative before dumps', 'ETH gas spikes precede volatility', 'SOL unlocks weigh on price']);
  const stored = (await stack.all<Listed & { importance: number; kind: string }>(`/v1/agents/${AGENT}/memories`)).find((m) => m.memoryId === second.memoryId)!;
  assert.equal(stored.importance, 0.9);
  assert.equal(stored.kind, 'observation');
});

test('react client - with the real stack: a resend of an acknowledged write (its answer lost) is dropped by event id', async () => {
  const w = await client.remember(AGENT, { text: 'answered, but the answer was lost', kind: 'fact' });
  assert.equal(w.queued, false);
  const occurredAt = Date.now();
  const again = (text: string) => ({ agentId: AGENT, type: 'memory_stored', eventId: w.eventId, occurredAt, data: { memoryId: w.memoryId, kind: 'fact', text } });
  // The same event alone: the same ingress message id, dropped by JetStream (within its duplicate window).
  const alone = await stack.post<{ accepted: { eventId: string; duplicate: boolean }[] }>('/v1/events', { events: [again('answered, but the answer was lost')] });
  assert.equal(alone.status, 202);
  assert.deepEqual(alone.body.accepted.map((a) => [a.eventId, a.duplicate]), [[w.eventId, true]]);
  // The same event in another message (past the window, or sent with others): on the log twice, applied once.
  const other = await client.remember(AGENT, { text: 'sent after it' });
  const mixed = await stack.post<{ accepted: { eventId: string; duplicate: boolean }[] }>('/v1/events', {
    events: [again('answered, but the answer was lost'), { agentId: AGENT, type: 'memory_stored', data: { kind: 'fact', text: 'a fresh one' } }],
  });
  assert.equal(mixed.status, 202);
  assert.equal(mixed.body.accepted[0]!.duplicate, false, 'a different message: JetStream does not know it is a resend');
  await stack.caughtUp();
  const all = await stack.all<Listed & { version: number }>(`/v1/agents/${AGENT}/memories`);
  assert.deepEqual(all.filter((m) => m.memoryId === w.memoryId).map((m) => [m.text, m.version]), [['answered, but the answer was lost', 1]]);
  assert.equal(all.filter((m) => m.memoryId === other.memoryId).length, 1);
  assert.deepEqual(all.map((m) => m.text).sort(), [
    'BTC funding flips negative before dumps', 'ETH gas spikes precede volatility', 'SOL unlocks weigh on price',
    'a fresh one', 'answered, but the answer was lost', 'sent after it',
  ]);
});
