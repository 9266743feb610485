import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, encodeBatch, HEADERS, names as makeNames, partitionOf } from '@farmbrain/contracts';
import { provisionStreams } from '@farmbrain/platform';
import { makeEvent, publishRaw, TestStack, uniqueNamespace } from '@farmbrain/testing';
import { discoverPartitions, FarmbrainAgent, FlushTimeoutError, PartitionMismatchError, type Receipt } from './index.js';
import { isNoResponders } from './partitions.js';

// The deployment has 4 partitions; publishers are configured with 16 and with 2.
const DEPLOYED = 4;
const PER_AGENT = 30;
const stack = new TestStack({ partitions: DEPLOYED });

before(async () => {
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
});
after(() => stack.destroy());

/** The first `count` agent ids of the form `<prefix>-<i>` for which `want` holds: each case gets agents deterministically. */
function agentsWhere(prefix: string, count: number, want: (agentId: string) => boolean): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (want(`${prefix}-${i}`)) out.push(`${prefix}-${i}`);
  return out;
}

interface Outcome {
  agentId: string;
  clientPartitions: number;
  results: PromiseSettledResult<Receipt>[];
}

/** Records PER_AGENT decisions, closes with a bound, and returns how every record call ended. */
async function runAgent(agentId: string, clientPartitions: number): Promise<Outcome> {
  const agent = new FarmbrainAgent({ agentId, connection: stack.nc, namespace: stack.namespace, partitions: clientPartitions, publishTimeoutMs: 2000 });
  const records = Array.from({ length: PER_AGENT }, (_, i) =>
    agent.recordDecision({ symbol: 'BTC', action: 'buy', size: 1, confidence: 0.5, rationale: `${agentId} #${i}` }));
  const results = Promise.allSettled(records);
  // close() bounds the wait: whatever is still unsent after it is rejected (FLUSH_TIMEOUT), never left hanging.
  await agent.close(15_000).catch(() => undefined);
  return { agentId, clientPartitions, results: await results };
}

const isMismatch = (r: PromiseSettledResult<Receipt>) => r.status === 'rejected' && r.reason instanceof PartitionMismatchError;

/** Every dead letter of the namespace: reason code per event id (a whole-message rejection lists the message's events). */
async function deadLetters(): Promise<Map<string, { code: string; ingressSeq: number }>> {
  const out = new Map<string, { code: string; ingressSeq: number }>();
  const info = await stack.jsm.streams.info(stack.names.deadLetterStream);
  if (info.state.messages === 0) return out;
  const it = await (await stack.js.consumers.get(stack.names.deadLetterStream)).consume();
  for await (const m of it) {
    const code = m.headers!.get(HEADERS.reasonCode);
    const ingressSeq = Number(m.headers!.get(HEADERS.ingressSeq));
    const eventId = m.headers!.get(HEADERS.eventId);
    const ids = eventId && eventId !== '-' ? [eventId] : decodeBatch(m.data).map((e) => e.raw.eventId ?? '');
    for (const id of ids) out.set(id, { code, ingressSeq });
    if (m.info.pending === 0) break;
  }
  return out;
}

test('partitions - with 4 partitions deployed, every record of agents configured with 16 or 2 is stored or rejected with PARTITION_MISMATCH, bad raw subjects are refused, and nothing stored is stranded', async () => {
  // (a) 16 partitions: an agent whose partition is 4..15 is refused; one below 4 computes the deployment's own partition.
  const refused16 = agentsWhere('p16', 2, (a) => partitionOf(a, 16) >= DEPLOYED);
  const fine16 = agentsWhere('p16', 2, (a) => partitionOf(a, 16) < DEPLOYED);
  // (b) 2 partitions: every subject is in range, so JetStream stores it; ingest dead-letters the ones on the wrong partition.
  const right2 = agentsWhere('p2', 2, (a) => partitionOf(a, 2) === partitionOf(a, DEPLOYED));
  const wrong2 = agentsWhere('p2', 2, (a) => partitionOf(a, 2) !== partitionOf(a, DEPLOYED));
  const outcomes = await Promise.all([
    ...[...refused16, ...fine16].map((a) => runAgent(a, 16)),
    ...[...right2, ...wrong2].map((a) => runAgent(a, 2)),
  ]);

  for (const o of outcomes) {
    for (const r of o.results) {
      assert.ok(r.status === 'fulfilled' || isMismatch(r), `${o.agentId}: a record either resolves or rejects with PARTITION_MISMATCH, got ${r.status === 'rejected' ? String(r.reason) : ''}`);
    }
    const expectRefused = refused16.includes(o.agentId);
    assert.equal(o.results.every(isMismatch), expectRefused, `${o.agentId} (${o.clientPartitions} partitions): refused = ${expectRefused}`);
    assert.equal(o.results.every((r) => r.status === 'fulfilled'), !expectRefused);
  }
  const mismatch = (outcomes.find((o) => o.agentId === refused16[0])!.results[0] as PromiseRejectedResult).reason as PartitionMismatchError;
  assert.equal(mismatch.code, 'PARTITION_MISMATCH');
  assert.equal(mismatch.deploymentPartitions, DEPLOYED);
  assert.equal(mismatch.clientPartitions, 16);
  assert.match(mismatch.message, /the deployment has 4 partitions but this agent was created with 16/);
  assert.match(mismatch.message, /partitions: 4/);

  // A refused client stays refused: later record calls reject at once, and flush() says why.
  const again = new FarmbrainAgent({ agentId: refused16[0]!, connection: stack.nc, namespace: stack.namespace, partitions: 16 });
  await assert.rejects(again.recordDecision({ symbol: 'ETH', action: 'sell', confidence: 0.5 }), PartitionMismatchError);
  await assert.rejects(again.recordDecision({ symbol: 'ETH', action: 'sell', confidence: 0.5 }), (err: unknown) => err instanceof PartitionMismatchError, 'rejected without a publish');
  assert.equal(again.pending, 0);
  await assert.rejects(again.flush(1000), PartitionMismatchError);
  await again.close(1000);

  // (c) raw publishes on subjects no ingest consumer reads are refused by JetStream.
  const body = encodeBatch([makeEvent('a', 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence: 0.5 }, { producerSeq: 1 })]);
  const ns = stack.namespace;
  for (const subject of [`${ns}.in.12.a`, `${ns}.in.x.a`, `${ns}.in.03.a`, `${ns}.in.1.a.b`]) {
    // nats.js v3: JetStreamNotEnabled ("jetstream is not enabled") <- RequestError <- NoRespondersError.
    await assert.rejects(publishRaw(stack.js, subject, body, `raw-${subject}`), (err: unknown) => isNoResponders(err), `a publish to ${subject} is refused`);
  }

  // Every accepted event is applied (a decisions row) or dead-lettered; the wrong-partition ones with AGENT_MISMATCH.
  await stack.caughtUp();
  const accepted = outcomes.flatMap((o) => o.results.flatMap((r) => (r.status === 'fulfilled' ? [{ agentId: o.agentId, receipt: r.value }] : [])));
  assert.equal(accepted.length, (fine16.length + right2.length + wrong2.length) * PER_AGENT);
  const rows = await stack.pool.query<{ event_id: string }>('SELECT event_id::text FROM decisions WHERE event_id = ANY($1::uuid[])', [accepted.map((a) => a.receipt.eventId)]);
  const applied = new Set(rows.rows.map((r) => r.event_id));
  const dlq = await deadLetters();
  for (const { agentId, receipt } of accepted) {
    const dead = dlq.get(receipt.eventId);
    if (wrong2.includes(agentId)) {
      assert.equal(dead?.code, 'AGENT_MISMATCH', `${receipt.eventId} of ${agentId} is dead-lettered`);
      assert.equal(dead.ingressSeq, receipt.streamSeq);
      assert.equal(applied.has(receipt.eventId), false);
    } else {
      assert.ok(applied.has(receipt.eventId), `${receipt.eventId} of ${agentId} is applied`);
      assert.equal(dead, undefined);
    }
  }

  // Nothing stranded: every stored subject is read by an ingest consumer, and the consumers acked every stored message.
  const stream = await stack.jsm.streams.info(stack.names.ingressStream, { subjects_filter: '>' });
  assert.deepEqual(stream.config.subjects, stack.names.ingressSubjects());
  const perPartition = new Array<number>(DEPLOYED).fill(0);
  for (const [subject, n] of Object.entries(stream.state.subjects ?? {})) {
    const [, , p, agent, ...rest] = subject.split('.');
    assert.equal(rest.length, 0, `stored subject ${subject} has exactly 4 tokens`);
    assert.equal(`${ns}.in.${Number(p)}.${agent}`, subject, `stored subject ${subject} has a decimal partition`);
    assert.ok(Number(p) < DEPLOYED, `stored subject ${subject} is in range`);
    perPartition[Number(p)] = (perPartition[Number(p)] ?? 0) + n;
  }
  let acked = 0;
  for (let p = 0; p < DEPLOYED; p++) {
    const ci = await stack.jsm.consumers.info(stack.names.ingressStream, stack.names.durable('ingest', p));
    assert.equal(ci.config.filter_subject, stack.names.ingressFilter(p));
    assert.equal(ci.num_pending, 0);
    assert.equal(ci.num_ack_pending, 0);
    assert.equal(ci.ack_floor.consumer_seq, perPartition[p], `ingest acked every message of partition ${p}`);
    acked += ci.ack_floor.consumer_seq;
  }
  assert.equal(acked, stream.state.messages, 'the ingest consumers acked as many messages as the ingress stream holds');
});

test('partitions - an agent whose ingress stream does not exist yet keeps its events, says so, and delivers them once it exists', async () => {
  const names = makeNames(uniqueNamespace('nostream'), DEPLOYED);
  const agent = new FarmbrainAgent({ agentId: 'early-1', connection: stack.nc, namespace: names.namespace, partitions: DEPLOYED, publishTimeoutMs: 1000 });
  try {
    const receipt = agent.recordDecision({ symbol: 'BTC', action: 'buy', confidence: 0.5 });
    await assert.rejects(agent.flush(1500), (err: unknown) => {
      assert.ok(err instanceof FlushTimeoutError);
      assert.match(err.message, new RegExp(`ingress stream '${names.ingressStream}' does not exist yet`));
      assert.match(err.message, /start the farmbrain services/i);
      assert.doesNotMatch(err.message, /NATS is reachable/);
      return true;
    });
    assert.equal(agent.pending, 1, 'the event stays in the outbox');
    await provisionStreams(stack.jsm, names);
    assert.equal(await discoverPartitions({ connection: stack.nc, namespace: names.namespace }), DEPLOYED);
    const r = await receipt;
    assert.equal(r.streamSeq, 1);
  } finally {
    await agent.close(5000).catch(() => undefined);
    for (const s of [names.ingressStream, names.eventsStream, names.deadLetterStream]) await stack.jsm.streams.delete(s).catch(() => undefined);
  }
});

test('partitions - provisioning narrows an older ingress stream that captured every <ns>.in subject', async () => {
  const names = makeNames(uniqueNamespace('upgrade'), 3);
  try {
    await stack.jsm.streams.add({ name: names.ingressStream, subjects: [`${names.namespace}.in.>`] });
    await provisionStreams(stack.jsm, names);
    const info = await stack.jsm.streams.info(names.ingressStream);
    assert.deepEqual(info.config.subjects, [`${names.namespace}.in.0.*`, `${names.namespace}.in.1.*`, `${names.namespace}.in.2.*`]);
    await assert.rejects(publishRaw(stack.js, `${names.namespace}.in.3.a`, new Uint8Array([1]), 'm-3'), (err: unknown) => isNoResponders(err));
  } finally {
    for (const s of [names.ingressStream, names.eventsStream, names.deadLetterStream]) await stack.jsm.streams.delete(s).catch(() => undefined);
  }
});
