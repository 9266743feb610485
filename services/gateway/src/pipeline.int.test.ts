import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeBatch,
  farmbrain,
  frameBatch,
  HEADERS,
  newEventId,
  SCHEMA_VERSION,
  type EventPayloads,
  type EventType,
  type FarmEvent,
  withDefaults,
} from '@farmbrain/contracts';
import { FarmbrainAgent } from '@farmbrain/sdk';
import { makeEvent, publishEvents, publishRaw, TestStack } from '@farmbrain/testing';

const AGENTS = 20;
const PER_AGENT = 500; // 10,000 valid events
const RAW_PER_AGENT = 25; // of which 500 go in raw, each sent twice (the 500 duplicates)
const INVALID = 200;
const stack = new TestStack({ env: { FB_MAX_CHECKPOINT_BYTES: '2048' } });

before(async () => {
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  await stack.start('gateway');
});
after(() => stack.destroy());

type Kind = { type: EventType; data: (i: number, a: string) => Record<string, unknown> };
const kinds = (i: number): Kind => {
  const k = i % 10;
  if (k < 6) return { type: 'decision_made', data: (n) => ({ symbol: ['BTC', 'ETH'][n % 2]!, action: 'buy', size: 1, confidence: 0.5, rationale: `d${n}`, situation: [n % 7, 1], memoryIds: [] }) };
  if (k < 8) return { type: 'trade_executed', data: (n) => ({ orderId: `o${n}`, symbol: 'BTC', side: n % 2 ? 'buy' : 'sell', qty: 1, price: 100 + n, fees: 0.1, decisionId: '' }) };
  if (k < 9) return { type: 'checkpoint_saved', data: (n) => ({ label: `cp${n}`, state: new TextEncoder().encode(`state ${n}`) }) };
  return { type: 'memory_stored', data: (n, a) => ({ memoryId: `m-${a}-${n}`, kind: 'observation', text: `note ${n}`, tags: ['t'], importance: 0.5, embedding: [], scope: 'agent', scopeId: '', expiresAt: 0, sourceEventIds: [], situation: [] }) };
};

/** One way of being invalid per entry: how to publish it and the reason code ingest must give. */
function invalidCases(): { code: string; subject: string; data: Uint8Array }[] {
  const n = stack.names;
  const now = Date.now();
  const dec = (over: Partial<FarmEvent> = {}, data: Partial<EventPayloads['decision_made']> = {}) =>
    ({ ...makeEvent('bad-agent', 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence: 0.5, rationale: '', situation: [], memoryIds: [], ...data }, { producerSeq: now * 1000 }), ...over }) as FarmEvent;
  const subj = n.ingressSubject('bad-agent');
  const rawEvent = (props: farmbrain.v1.Event.$Properties) => frameBatch([farmbrain.v1.Event.encode(props).finish()]);
  const wrongPartition = `${n.namespace}.in.${(Number(subj.split('.')[2]) + 1) % n.partitions}.bad-agent`;
  const cases = [
    { code: 'DECODE_ERROR', subject: subj, data: new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0xff, 0xff]) },
    { code: 'DECODE_ERROR', subject: subj, data: new Uint8Array() },
    { code: 'DECODE_ERROR', subject: subj, data: rawEvent({ eventId: newEventId(), agentId: 'bad-agent', producerSeq: 1, occurredAtMs: now, schemaVersion: SCHEMA_VERSION }) },
    { code: 'INVALID_FIELD', subject: subj, data: encodeBatch([dec({ eventId: 'not-a-uuid' })]) },
    { code: 'MISSING_FIELD', subject: subj, data: encodeBatch([dec({ eventId: '' })]) },
    { code: 'MISSING_FIELD', subject: subj, data: encodeBatch([dec({}, { symbol: '' })]) },
    { code: 'OUT_OF_RANGE', subject: subj, data: encodeBatch([dec({}, { confidence: 1.5 })]) },
    { code: 'CLOCK_SKEW', subject: subj, data: encodeBatch([dec({ occurredAt: now + 3_600_000 })]) },
    { code: 'UNSUPPORTED_SCHEMA', subject: subj, data: encodeBatch([dec({ schemaVersion: 99 })]) },
    { code: 'AGENT_MISMATCH', subject: subj, data: encodeBatch([dec({ agentId: 'someone-else' })]) },
    { code: 'AGENT_MISMATCH', subject: wrongPartition, data: encodeBatch([dec()]) },
    { code: 'TOO_LARGE', subject: subj, data: encodeBatch([makeEvent('bad-agent', 'checkpoint_saved', { label: 'big', state: new Uint8Array(4096) }, { producerSeq: now * 1000 })]) },
    { code: 'OUT_OF_RANGE', subject: subj, data: encodeBatch([makeEvent('bad-agent', 'trade_executed', { orderId: 'o', symbol: 'BTC', side: 'buy', qty: -1, price: 10, fees: 0, decisionId: '' }, { producerSeq: now * 1000 })]) },
  ];
  return Array.from({ length: INVALID }, (_, i) => cases[i % cases.length]!);
}

test('pipeline - 10,000 events from 20 agents with 500 duplicates and 200 invalid: each valid event is served once, each invalid one dead-lettered with its reason', async () => {
  const valid = new Map<string, { agentId: string; type: EventType }>();
  const agents = Array.from({ length: AGENTS }, (_, a) => new FarmbrainAgent({
    agentId: `fleet-${a}`, connection: stack.nc, namespace: stack.namespace, partitions: stack.names.partitions,
  }));

  // 9,500 through the SDK (batched), 500 published raw, each of those twice.
  const sdkWork = agents.map(async (agent, a) => {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < PER_AGENT - RAW_PER_AGENT; i++) {
      const k = kinds(i);
      const p = agent.record(k.type, withDefaults(k.type, k.data(i, agent.agentId)));
      pending.push(p.then((r) => valid.set(r.eventId, { agentId: agent.agentId, type: k.type })));
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(pending);
    return a;
  });
  const rawWork = (async () => {
    const seq = Date.now() * 1000;
    let dupsSameId = 0;
    for (let a = 0; a < AGENTS; a++) {
      for (let j = 0; j < RAW_PER_AGENT; j++) {
        const i = PER_AGENT - RAW_PER_AGENT + j;
        const k = kinds(i);
        const agentId = `fleet-${a}`;
        const e = makeEvent(agentId, k.type, k.data(i, agentId) as never, { producerSeq: seq + i });
        valid.set(e.eventId, { agentId, type: k.type });
        await publishEvents(stack.js, stack.names, [e], e.eventId);
        // The duplicate: half with the same message id (JetStream drops it), half as a
        // retry with a new message id (the projections must drop it).
        const sameId = (a * RAW_PER_AGENT + j) % 2 === 0;
        const ack = await publishEvents(stack.js, stack.names, [e], sameId ? e.eventId : `retry-${e.eventId}`);
        if (sameId) {
          assert.equal(ack.duplicate, true);
          dupsSameId++;
        }
      }
    }
    return dupsSameId;
  })();
  const invalidWork = (async () => {
    const expected = new Map<number, string>();
    for (const [i, c] of invalidCases().entries()) {
      const ack = await publishRaw(stack.js, c.subject, c.data, `invalid-${i}`);
      expected.set(ack.seq, c.code);
    }
    return expected;
  })();

  const [, dupsSameId, expectedInvalid] = await Promise.all([Promise.all(sdkWork), rawWork, invalidWork]);
  assert.equal(dupsSameId, 250);
  assert.equal(valid.size, AGENTS * PER_AGENT);
  await Promise.all(agents.map((a) => a.close()));
  await stack.caughtUp();

  // Through the gateway: every valid event exactly once.
  const seen = new Map<string, number>();
  const count = (id: string) => seen.set(id, (seen.get(id) ?? 0) + 1);
  for (let a = 0; a < AGENTS; a++) {
    const id = `fleet-${a}`;
    for (const d of await stack.all<{ decisionId: string }>(`/v1/agents/${id}/decisions`)) count(d.decisionId);
    for (const t of await stack.all<{ tradeId: string }>(`/v1/agents/${id}/trades`)) count(t.tradeId);
    for (const c of await stack.all<{ checkpointId: string }>(`/v1/agents/${id}/checkpoints`)) count(c.checkpointId);
    const mems = await stack.all<{ memoryId: string }>(`/v1/agents/${id}/memories`);
    assert.equal(mems.length, PER_AGENT / 10, `memories of ${id}`);
    for (const m of mems) count(`memory:${m.memoryId}`);
  }
  const expectedIds = [...valid].filter(([, v]) => v.type !== 'memory_stored').map(([id]) => id);
  for (const id of expectedIds) assert.equal(seen.get(id), 1, `event ${id} served once`);
  const served = [...seen.values()].reduce((s, n) => s + n, 0);
  assert.equal(served, AGENTS * PER_AGENT, 'nothing served that was not sent, nothing twice');
  assert.ok([...seen.values()].every((n) => n === 1));

  const agentsPage = await stack.get<{ items: { agentId: string }[] }>('/v1/agents?limit=100');
  assert.deepEqual(agentsPage.body.items.map((a) => a.agentId).filter((a) => a.startsWith('fleet-')).length, AGENTS);

  // Every invalid event in the dead-letter stream, with its reason.
  const dlq = await stack.js.consumers.get(stack.names.deadLetterStream);
  const info = await stack.jsm.streams.info(stack.names.deadLetterStream);
  assert.equal(info.state.messages, INVALID);
  const got = new Map<number, { code: string; reason: string }>();
  const it = await dlq.consume();
  for await (const m of it) {
    got.set(Number(m.headers!.get(HEADERS.ingressSeq)), { code: m.headers!.get(HEADERS.reasonCode), reason: m.headers!.get(HEADERS.reason) });
    if (m.info.pending === 0) break;
  }
  assert.equal(got.size, INVALID);
  for (const [seq, code] of expectedInvalid) {
    const g = got.get(seq);
    assert.ok(g, `invalid message at ingress seq ${seq} is dead-lettered`);
    assert.equal(g.code, code, `reason code for ingress seq ${seq}: ${g.reason}`);
    assert.ok(g.reason.length > 10, 'the reason says what is wrong');
  }
});
