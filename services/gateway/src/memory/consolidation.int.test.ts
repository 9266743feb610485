import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { consistencyTokenOf, partitionOf, type ConsolidateResponse, type DecisionContext, type EraseResult, type ErasureView, type RecallResponse, type WriteResult } from '@farmbrain/contracts';
import { makeEvent, publishEvents, TestStack } from '@farmbrain/testing';

/**
 * Consolidation on a constructed set, end to end (gateway → ingest → tiering → recall): exactly the
 * near-duplicates merge; recall serves the canonical memory instead of the originals, which stay readable;
 * a decision that cited an original keeps its provenance; a dry run publishes nothing; with a chat endpoint
 * the canonical text is a summary; erasing an original erases the canonical derived from it and returns
 * the other originals to recall.
 */
const stack = new TestStack();
let plainGateway = '';
let summaryGateway = '';
let chat: Server;
const summaries: string[][] = [];

const DIMS = 8;
const unit = (i: number) => Array.from({ length: DIMS }, (_, j) => (j === i ? 1 : 0));
const mix = (...parts: [number, number][]) => {
  const v = new Array<number>(DIMS).fill(0);
  for (const [i, w] of parts) v[i]! += w;
  return v;
};

async function call<T>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const r = await fetch(`${base}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  return { status: r.status, body: (await r.json()) as T };
}
const remember = async (agent: string, body: Record<string, unknown>) => {
  const r = await call<WriteResult>(plainGateway, 'POST', `/v1/agents/${agent}/memories`, { embeddingModel: 'client', importance: 0.5, ...body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
};
const recall = async (agent: string, body: Record<string, unknown>) => {
  const r = await call<RecallResponse>(plainGateway, 'POST', `/v1/agents/${agent}/recall`, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};
const consolidate = async (base: string, agent: string, body: Record<string, unknown>) => {
  const r = await call<ConsolidateResponse>(base, 'POST', `/v1/agents/${agent}/memories/consolidate`, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};
const ids = (r: RecallResponse) => r.hits.map((h) => h.memory.memoryId);
const ingressHead = async () => (await stack.jsm.streams.info(stack.names.ingressStream)).state.last_seq;

before(async () => {
  // An OpenAI-compatible chat endpoint that writes the summary from the texts it is sent.
  chat = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c));
    req.on('end', () => {
      const body = JSON.parse(data) as { messages: { role: string; content: string }[] };
      const texts = body.messages.at(-1)!.content.split('\n');
      summaries.push(texts);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { content: `Summary of ${texts.length}: ETH fades against the trend keep losing.` } }] }));
    });
  });
  await new Promise<void>((r) => chat.listen(0, '127.0.0.1', r));
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  await stack.start('gateway');
  plainGateway = stack.gatewayUrl;
  await stack.start('gateway', { FB_SUMMARY_URL: `http://127.0.0.1:${(chat.address() as AddressInfo).port}/v1`, FB_SUMMARY_MODEL: 'fake-chat',
    // This gateway also runs the lifecycle policy's memory decay (opt-in).
    FB_LIFECYCLE_POLICY: JSON.stringify({ memory: { decay: { enabled: true, halfLifeDays: 10, minFactor: 0.1 } } }) }, { instance: 'gateway-summary' });
  summaryGateway = stack.gatewayUrl;
  for (const a of ['c1', 'c2']) await publishEvents(stack.js, stack.names, [makeEvent(a, 'agent_registered', { name: a, team: '' }, { producerSeq: 1 })]);
  await stack.caughtUp();
});
after(async () => {
  await stack.destroy();
  await new Promise((r) => chat.close(r));
});

const BTC = ['BTC-USD', 'breakout', 'loss'];
let group: { a: WriteResult[]; b: WriteResult[]; distinct: WriteResult[]; other: WriteResult };
let decisionId = '';
let decisionToken = '';

test('consolidation - a dry run plans exactly the near-duplicates and publishes nothing', async () => {
  const a = [
    await remember('c1', { kind: 'lesson', text: 'Lost on a BTC breakout long: the stop was hit fast, the move reversed', tags: BTC, embedding: mix([0, 1], [1, 0.1]) }),
    await remember('c1', { kind: 'lesson', text: 'BTC breakout long stopped out fast; the breakout reversed at once', tags: BTC, embedding: mix([0, 1], [2, 0.1]), importance: 0.9 }),
    await remember('c1', { kind: 'lesson', text: 'Another BTC breakout long lost: stop hit within minutes as the move reversed', tags: BTC, embedding: mix([0, 1], [1, -0.05], [2, 0.05]) }),
  ];
  const b = [
    await remember('c1', { kind: 'lesson', text: 'ETH mean-reversion short against the trend lost again', tags: ['ETH-USD', 'loss'], embedding: mix([3, 1], [4, 0.1]) }),
    await remember('c1', { kind: 'lesson', text: 'Fading ETH against a strong trend lost money', tags: ['ETH-USD', 'loss'], embedding: mix([3, 1], [5, 0.1]) }),
  ];
  const distinct = [
    // Similar vector, other tags (another symbol, a win): not a duplicate.
    await remember('c1', { kind: 'lesson', text: 'SOL breakout long won: the move held', tags: ['SOL-USD', 'win'], embedding: mix([0, 1], [1, 0.1]) }),
    // Same vector and tags, another kind.
    await remember('c1', { kind: 'observation', text: 'BTC breakouts reverse often this week', tags: BTC, embedding: unit(0) }),
    // Same tags, another direction.
    await remember('c1', { kind: 'lesson', text: 'BTC funding turned negative before the drop', tags: BTC, embedding: unit(6) }),
    // Just below the threshold (cosine 0.85).
    await remember('c1', { kind: 'lesson', text: 'BTC breakout long lost on a news spike', tags: BTC, embedding: mix([0, 0.85], [7, 0.5268]) }),
  ];
  // Another agent's identical memory is another owner's: never merged with c1's.
  const other = await remember('c2', { kind: 'lesson', text: 'Lost on a BTC breakout long: the stop was hit fast', tags: BTC, embedding: unit(0) });
  group = { a, b, distinct, other };
  // A decision of c1 cites one of the originals.
  const cited = a[0]!.memoryId;
  const r = await call<{ accepted: { eventId: string; streamSeq: number }[] }>(plainGateway, 'POST', '/v1/events', {
    events: [{ agentId: 'c1', type: 'decision_made', data: { symbol: 'BTC-USD', action: 'buy', size: 1, confidence: 0.6, rationale: 'breakout, sized down after the lessons', situation: [], memoryIds: [cited], recallIds: [] } }],
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  decisionId = r.body.accepted[0]!.eventId;
  decisionToken = consistencyTokenOf(partitionOf('c1', stack.names.partitions), r.body.accepted[0]!.streamSeq);
  await stack.caughtUp();

  const head = await ingressHead();
  const plan = await consolidate(plainGateway, 'c1', { dryRun: true, consistency: group.distinct.at(-1)!.consistencyToken });
  assert.equal(plan.dryRun, true);
  assert.equal(plan.candidates, 9);
  const sorted = (ws: WriteResult[]) => ws.map((w) => w.memoryId).sort();
  assert.deepEqual(plan.groups.map((g) => g.mergedIds).sort((x, y) => x.length - y.length), [sorted(b), sorted(a)], 'exactly the two groups of near-duplicates');
  assert.equal(plan.removedFromRecall, 3);
  const ga = plan.groups.find((g) => g.mergedIds.length === 3)!;
  assert.equal(ga.kind, 'lesson');
  assert.equal(ga.evidence, 3);
  assert.equal(ga.method, 'representative');
  assert.ok(a.some((w) => w.memoryId === ga.representativeId));
  assert.equal(await ingressHead(), head, 'a dry run publishes nothing');
  // Twice the same plan: the canonical ids derive from the members.
  assert.deepEqual((await consolidate(plainGateway, 'c1', { dryRun: true })).groups.map((g) => g.canonicalMemoryId), plan.groups.map((g) => g.canonicalMemoryId));
  const c2plan = await consolidate(plainGateway, 'c2', { dryRun: true });
  assert.equal(c2plan.groups.length, 0);
});

test('consolidation - recall serves the canonical memory, the originals stay readable, and provenance of a decision that cited one is kept', async () => {
  const done = await consolidate(plainGateway, 'c1', {});
  assert.equal(done.groups.length, 2);
  assert.ok(done.consistencyToken);
  const ga = done.groups.find((g) => g.mergedIds.length === 3)!;
  const gb = done.groups.find((g) => g.mergedIds.length === 2)!;

  const byVector = await recall('c1', { vector: unit(0), embeddingModel: 'client', k: 20, consistency: done.consistencyToken });
  const got = ids(byVector);
  assert.ok(got.includes(ga.canonicalMemoryId), 'the canonical memory is recalled');
  for (const w of group.a) assert.ok(!got.includes(w.memoryId), `original ${w.memoryId} left recall (vector)`);
  for (const w of group.distinct.filter((d, i) => i !== 1)) assert.ok(got.includes(w.memoryId), `distinct memory ${w.memoryId} is still recalled`);
  assert.ok(!got.includes(group.other.memoryId), "another agent's memory is not c1's");
  const canonical = byVector.hits.find((h) => h.memory.memoryId === ga.canonicalMemoryId)!.memory;
  assert.equal(canonical.text, ga.text);
  assert.deepEqual(canonical.consolidation?.mergedIds, ga.mergedIds);
  assert.equal(canonical.consolidation?.evidence, 3);
  assert.equal(canonical.consolidation?.method, 'representative');
  assert.ok(canonical.consolidation!.spanFrom <= canonical.consolidation!.spanTo);
  assert.deepEqual(canonical.tags, [...BTC].sort());
  assert.equal(canonical.importance, 0.9);

  const byText = await recall('c1', { query: 'BTC breakout long stop reversed', k: 20, consistency: done.consistencyToken });
  for (const w of [...group.a, ...group.b]) assert.ok(!ids(byText).includes(w.memoryId), `original ${w.memoryId} left recall (full text)`);
  assert.ok(ids(byText).includes(ga.canonicalMemoryId));
  const browse = await recall('c1', { kinds: ['lesson'], k: 100 });
  assert.deepEqual(ids(browse).filter((id) => [...group.a, ...group.b].some((w) => w.memoryId === id)), [], 'nor are they browsed');
  assert.ok(ids(browse).includes(gb.canonicalMemoryId));

  // The originals: readable by id, listed, and pointing at their canonical in the warm store.
  for (const w of group.a) {
    const rec = await call<{ kind: string; record: { text: string } }>(plainGateway, 'GET', `/v1/records/${w.memoryId}`);
    assert.equal(rec.status, 200);
    assert.match(rec.body.record.text, /BTC breakout/);
  }
  const rows = (await stack.pool.query<{ memory_id: string; consolidated_into: string | null }>('SELECT memory_id, consolidated_into FROM memories WHERE agent_id = $1', ['c1'])).rows;
  assert.deepEqual(rows.filter((r) => r.consolidated_into === ga.canonicalMemoryId).map((r) => r.memory_id).sort(), ga.mergedIds);

  // The decision still shows the original it cited, as it was.
  const ctx = await call<DecisionContext>(plainGateway, 'GET', `/v1/agents/c1/decisions/${decisionId}/context?consistency=${encodeURIComponent(decisionToken)}`);
  assert.equal(ctx.status, 200, JSON.stringify(ctx.body));
  const cited = ctx.body.citedMemories[0]!;
  assert.equal(cited.memoryId, group.a[0]!.memoryId);
  assert.equal(cited.memory.text, 'Lost on a BTC breakout long: the stop was hit fast, the move reversed');
  assert.equal(cited.changedSince, false);
  assert.equal(cited.forgottenSince, false);

  // Nothing is left to merge; a second run publishes nothing, and tiering dead-lettered nothing.
  const again = await consolidate(plainGateway, 'c1', {});
  assert.equal(again.groups.length, 0);
  assert.equal(again.consistencyToken, undefined);
  await stack.caughtUp();
  const dead = await stack.pool.query('SELECT code, reason FROM projection_dead_letters');
  assert.deepEqual(dead.rows, []);
  // The log holds no memory text in the clear: the canonical's content went through ingest, sealed.
  const plain = await stack.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM memory_versions WHERE memory_id = $1`, [ga.canonicalMemoryId]);
  assert.equal(plain.rows[0]!.n, 2, 'stored, then consolidated');
});

test('consolidation - with a chat endpoint the canonical text is a summary, embedded as the centroid of its group', async () => {
  const texts = ['Faded an ETH rally against the trend and lost', 'ETH fade against the trend lost again'];
  const c = [
    await remember('c1', { kind: 'lesson', text: texts[0], tags: ['ETH-USD', 'fade'], embedding: mix([4, 1], [5, 0.1]) }),
    await remember('c1', { kind: 'lesson', text: texts[1], tags: ['ETH-USD', 'fade'], embedding: mix([4, 1], [6, 0.1]) }),
  ];
  const preview = await consolidate(summaryGateway, 'c1', { dryRun: true, consistency: c[1]!.consistencyToken });
  assert.equal(summaries.length, 0, 'a dry run does not ask the chat endpoint');
  assert.equal(preview.groups[0]?.method, 'summary:fake-chat');
  const done = await consolidate(summaryGateway, 'c1', {});
  assert.equal(done.groups.length, 1);
  assert.equal(summaries.length, 1);
  assert.deepEqual(summaries[0]!.map((t) => t.replace(/^\d+\. /, '')).sort(), [...texts].sort(), 'the chat endpoint got every member\'s text');
  const g = done.groups[0]!;
  assert.equal(g.representativeId, '');
  assert.equal(g.text, 'Summary of 2: ETH fades against the trend keep losing.');
  const r = await recall('c1', { vector: unit(4), embeddingModel: 'client', k: 5, consistency: done.consistencyToken });
  const hit = r.hits.find((h) => h.memory.memoryId === g.canonicalMemoryId)!;
  assert.ok(hit, 'the summary is recalled by the group\'s direction');
  assert.ok(hit.parts.vector!.similarity > 0.99);
  assert.equal(hit.memory.consolidation?.method, 'summary:fake-chat');
  for (const w of c) assert.ok(!ids(r).includes(w.memoryId));
  assert.equal(hit.parts.decay, undefined, 'decay is off unless the policy turns it on');
  // Through the gateway whose policy turns decay on, each hit's parts say how its score was decayed.
  const decayed = await call<RecallResponse>(summaryGateway, 'POST', '/v1/agents/c1/recall', { vector: unit(4), embeddingModel: 'client', k: 5, consistency: done.consistencyToken });
  assert.equal(decayed.status, 200);
  const d = decayed.body.hits.find((h) => h.memory.memoryId === g.canonicalMemoryId)!.parts.decay!;
  assert.equal(d.halfLifeDays, 10);
  assert.equal(d.minFactor, 0.1);
  assert.ok(d.ageDays >= 0 && d.ageDays < 1 && d.factor > 0.9 && d.factor <= 1, JSON.stringify(d));
  assert.ok(['created', 'lastRecalled'].includes(d.since));
});

test('consolidation - erasing an original erases the canonical derived from it, and the other originals return to recall', async () => {
  const plan = await consolidate(plainGateway, 'c1', { dryRun: true });
  assert.equal(plan.groups.length, 0);
  const bIds = group.b.map((w) => w.memoryId).sort();
  const canonical = (await stack.pool.query<{ memory_id: string }>('SELECT memory_id FROM memories WHERE merged_ids = $1::text[]', [bIds])).rows[0]!.memory_id;
  const e = await call<EraseResult>(plainGateway, 'POST', `/v1/agents/c1/memories/${group.b[0]!.memoryId}/erase`, { reason: 'test: derived content goes too', operator: 'ops-test' });
  assert.equal(e.status, 200, JSON.stringify(e.body));
  assert.deepEqual(e.body.erased.map((x) => x.memoryId), [group.b[0]!.memoryId, canonical]);
  assert.ok(e.body.erased.every((x) => x.keyDestroyed));
  const r = await recall('c1', { vector: unit(3), embeddingModel: 'client', k: 10, consistency: e.body.consistencyToken });
  assert.ok(ids(r).includes(group.b[1]!.memoryId), 'the other original is back in recall');
  assert.ok(!ids(r).includes(group.b[0]!.memoryId) && !ids(r).includes(canonical));
  const log = await call<{ items: ErasureView[] }>(plainGateway, 'GET', '/v1/erasures?agentId=c1');
  assert.deepEqual(log.body.items.map((x) => [x.memoryId, x.operator, x.scrubbed]).sort(), [[group.b[0]!.memoryId, 'ops-test', true], [canonical, 'ops-test', true]].sort());
  assert.deepEqual(log.body.items.find((x) => x.memoryId === canonical)!.released, [group.b[1]!.memoryId]);
  // A re-plan may merge what is left again: one original is not a group.
  assert.equal((await consolidate(plainGateway, 'c1', { dryRun: true })).groups.length, 0);
});
