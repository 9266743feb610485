import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jetstream, type JetStreamClient, type JetStreamManager, type JetStreamPublishOptions, type JsMsg, type PubAck } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { decodeBatch, defaultEventLimits, EMPTY_SCOPE_POLICY, encodeBatch, HEADERS, names as makeNames, partitionOf, type FarmEvent, type Names } from '@farmbrain/contracts';
import { COMMON_DEFAULTS, connectNats, createLogger, defaultStreamSettings, jetstreamManager, provisionStreams } from '@farmbrain/platform';
import { makeEvent, propertyRuns, readStream, uniqueNamespace } from '@farmbrain/testing';
import { createIngestHandler, type IngestBatchHandler, type IngestStats } from './ingester.js';

/**
 * Property: whatever publishes fail (before sending, or after, with the ack
 * lost), however often batches are retried in place, handlers restarted cold,
 * the dedupe window missed, and while a stale second owner (a "zombie") runs the
 * same partitions, the canonical stream holds every ingress message exactly
 * once, per agent subject in ingress order, with exactly the valid events.
 */

const url = process.env.NATS_URL ?? COMMON_DEFAULTS.natsUrl;
const log = createLogger('ingest-test', 'silent');
const PARTITIONS = 2;

type Kind = 'valid' | 'mixed' | 'invalid' | 'garbage' | 'foreign';
interface MsgSpec { agent: number; kind: Kind; events: number }

const msgArb: fc.Arbitrary<MsgSpec> = fc.record({
  agent: fc.nat(5),
  kind: fc.constantFrom<Kind>('valid', 'valid', 'valid', 'valid', 'mixed', 'invalid', 'garbage', 'foreign'),
  events: fc.integer({ min: 1, max: 3 }),
});

interface Scenario {
  traffic: MsgSpec[];
  seed: number;
  /** Batch sizes of the owner and of the zombie (cycled). */
  ownerBatches: number[];
  zombieBatches: number[];
  /** Fraction of its batches the zombie runs before it is "paused" until the owner is done. */
  zombiePauseAt: number;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  traffic: fc.array(msgArb, { minLength: 40, maxLength: 160 }),
  seed: fc.integer(),
  ownerBatches: fc.array(fc.integer({ min: 1, max: 24 }), { minLength: 1, maxLength: 5 }),
  zombieBatches: fc.array(fc.integer({ min: 1, max: 24 }), { minLength: 1, maxLength: 5 }),
  zombiePauseAt: fc.double({ min: 0, max: 1, noNaN: true }),
});

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const faults = { throwBefore: 0, lostAck: 0, noDedupe: 0, batchFailures: 0, coldRestarts: 0 };

/**
 * A JetStreamClient whose publish randomly fails before sending, or sends and
 * then loses the ack; and, for canonical messages, sometimes drops the message id
 * (as if the dedupe window had passed), so only the fence can catch a republish.
 */
function faulty(js: JetStreamClient, n: Names, rnd: () => number): JetStreamClient {
  const publish = async (subject: string, data?: Uint8Array, opts?: Partial<JetStreamPublishOptions>): Promise<PubAck> => {
    const r = rnd();
    if (r < 0.12) {
      faults.throwBefore++;
      throw new Error('injected: publish failed before sending');
    }
    let o = opts;
    if (subject.startsWith(`${n.namespace}.ev.`) && rnd() < 0.15) {
      faults.noDedupe++;
      const h = natsHeaders();
      for (const k of opts?.headers?.keys() ?? []) if (k !== 'Nats-Msg-Id') for (const v of opts!.headers!.values(k)) h.append(k, v);
      const { msgID: _drop, ...rest } = opts ?? {};
      o = { ...rest, headers: h };
    }
    const ack = await js.publish(subject, data, o);
    if (r > 0.88) {
      faults.lostAck++;
      throw new Error('injected: ack lost after the message was stored');
    }
    return ack;
  };
  return { publish } as unknown as JetStreamClient;
}

interface Expected {
  /** Canonical subject → [ingress seq, valid event ids] in ingress order. */
  canonical: Map<string, [number, string[]][]>;
  /** Ingress seq → rejected events (dead letters) it leads to. */
  deadLetters: Map<number, number>;
  ingress: number;
}

async function publishTraffic(js: JetStreamClient, n: Names, traffic: readonly MsgSpec[], agents: readonly string[]): Promise<Expected> {
  const exp: Expected = { canonical: new Map(), deadLetters: new Map(), ingress: 0 };
  const producerSeq = new Map<string, number>();
  const ev = (agentId: string, ok: boolean, author = agentId): FarmEvent => {
    const seq = (producerSeq.get(author) ?? 0) + 1;
    producerSeq.set(author, seq);
    return makeEvent(author, 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence: ok ? 0.5 : 7, rationale: '', situation: [], memoryIds: [] }, { producerSeq: seq });
  };
  for (const [i, t] of traffic.entries()) {
    const agentId = agents[t.agent]!;
    let data: Uint8Array;
    let valid: string[] = [];
    let rejected = 0;
    if (t.kind === 'garbage') {
      data = new TextEncoder().encode(`not protobuf ${i}`);
      rejected = 1;
    } else {
      const evs = Array.from({ length: t.events }, (_, k) => {
        if (t.kind === 'foreign') return ev(agentId, true, `${agentId}x`);
        return ev(agentId, t.kind === 'valid' || (t.kind === 'mixed' && k % 2 === 0));
      });
      if (t.kind === 'mixed' && evs.length === 1) evs.push(ev(agentId, false));
      data = encodeBatch(evs);
      valid = evs.filter((e) => e.agentId === agentId && (e.data as { confidence: number }).confidence <= 1).map((e) => e.eventId);
      rejected = evs.length - valid.length;
    }
    const ack = await js.publish(n.ingressSubject(agentId), data, { msgID: `t:${i}` });
    const subject = n.eventsSubject(agentId);
    exp.canonical.set(subject, [...(exp.canonical.get(subject) ?? []), [ack.seq, valid]]);
    if (rejected > 0) exp.deadLetters.set(ack.seq, rejected);
    exp.ingress++;
  }
  return exp;
}


function cut<T>(items: readonly T[], sizes: readonly number[]): T[][] {
  const out: T[][] = [];
  for (let i = 0, k = 0; i < items.length; k++) {
    const s = sizes[k % sizes.length]!;
    out.push(items.slice(i, i + s));
    i += s;
  }
  return out;
}

/** What the partition worker does: each batch retried in place until it passes; sometimes the process "restarts" (a fresh, cold handler). */
async function runBatches(open: () => IngestBatchHandler, batches: readonly (readonly JsMsg[])[], rnd: () => number, from = 0, to = batches.length, handle = open()): Promise<IngestBatchHandler> {
  for (let b = from; b < to; b++) {
    for (let attempt = 0; ; attempt++) {
      try {
        await handle(batches[b]!);
        break;
      } catch (err) {
        if (attempt > 500) throw err;
        faults.batchFailures++;
        if (rnd() < 0.15) {
          faults.coldRestarts++;
          handle = open();
        }
        await new Promise((r) => setImmediate(r));
      }
    }
  }
  return handle;
}

async function scenario(nc: NatsConnection, jsm: JetStreamManager, s: Scenario, stats: IngestStats[]): Promise<void> {
  const js = jetstream(nc);
  const n = makeNames(uniqueNamespace('ord'), PARTITIONS);
  await provisionStreams(jsm, n, defaultStreamSettings());
  try {
    const agents = Array.from({ length: 6 }, (_, i) => `ag${i}`);
    assert.equal(new Set(agents.map((a) => partitionOf(a, PARTITIONS))).size, PARTITIONS, 'agents on every partition');
    const exp = await publishTraffic(js, n, s.traffic, agents);
    const ingress = await readStream(js, jsm, n.ingressStream);
    assert.equal(ingress.length, exp.ingress);

    // Half the runs remember one subject only (the others are learnt from the log again): forgetting is always safe.
    const maxKnownSubjects = s.seed % 2 === 0 ? 1 : 100_000;
    const instance = (rnd: () => number, st: IngestStats) =>
      createIngestHandler({ js: faulty(js, n, rnd), jsm, names: n, limits: defaultEventLimits(), scopes: EMPTY_SCOPE_POLICY, log, maxKnownSubjects }, st);
    const ownerStats: IngestStats = { messages: 0, forwardedEvents: 0, deadLettered: 0 };
    const zombieStats: IngestStats = { messages: 0, forwardedEvents: 0, deadLettered: 0 };
    stats.push(ownerStats, zombieStats);
    const owner = instance(prng(s.seed), ownerStats);
    const zombie = instance(prng(s.seed ^ 0x5bd1e995), zombieStats);
    const rndOwner = prng(s.seed + 1);
    const rndZombie = prng(s.seed + 2);

    await Promise.all(Array.from({ length: PARTITIONS }, async (_, p) => {
      const msgs = ingress.filter((m) => m.subject.startsWith(`${n.namespace}.in.${p}.`));
      const ob = cut(msgs, s.ownerBatches);
      const zb = cut(msgs, s.zombieBatches);
      const pauseAt = Math.floor(zb.length * s.zombiePauseAt);
      let ownerDone!: () => void;
      const ownerFinished = new Promise<void>((r) => (ownerDone = r));
      await Promise.all([
        runBatches(() => owner.open(p), ob, rndOwner).then(() => ownerDone()),
        (async () => {
          // The zombie races the owner, is "paused" (SIGSTOP) with its cache as it was, and resumes after the owner finished.
          const h = await runBatches(() => zombie.open(p), zb, rndZombie, 0, pauseAt);
          await ownerFinished;
          await runBatches(() => zombie.open(p), zb, rndZombie, pauseAt, zb.length, h);
        })(),
      ]);
    }));

    // The whole canonical stream.
    const canonical = await readStream(js, jsm, n.eventsStream);
    const got = new Map<string, [number, string[]][]>();
    for (const m of canonical) {
      const ingressSeq = Number(m.headers?.get(HEADERS.ingressSeq));
      const ids = decodeBatch(m.data).map((e) => e.event!.eventId);
      got.set(m.subject, [...(got.get(m.subject) ?? []), [ingressSeq, ids]]);
    }
    for (const [subject, list] of got) {
      for (let i = 1; i < list.length; i++) {
        assert.ok(list[i]![0] > list[i - 1]![0], `${subject}: Fb-Ingress-Seq ${list[i]![0]} after ${list[i - 1]![0]} (not strictly ascending)`);
      }
    }
    assert.equal(canonical.length, exp.ingress, 'one canonical message per ingress message');
    assert.deepEqual(got, exp.canonical);

    // Every rejected event dead-lettered exactly once (dead letters keep their message ids).
    const dlq = new Map<number, number>();
    for (const m of await readStream(js, jsm, n.deadLetterStream)) {
      const seq = Number(m.headers?.get(HEADERS.ingressSeq));
      dlq.set(seq, (dlq.get(seq) ?? 0) + 1);
    }
    assert.deepEqual(dlq, exp.deadLetters);
  } finally {
    for (const s of [n.ingressStream, n.eventsStream, n.deadLetterStream]) await jsm.streams.delete(s).catch(() => undefined);
  }
}

test('ingest - per-agent canonical order and exactly-once survive failed publishes, lost acks, retries, cold restarts and a zombie owner', async (t) => {
  const nc = await connectNats(url, 'ingest-agent-order-test');
  const jsm = await jetstreamManager(nc);
  const stats: IngestStats[] = [];
  try {
    await fc.assert(fc.asyncProperty(scenarioArb, (s) => scenario(nc, jsm, s, stats)), propertyRuns(25, { interruptAfterTimeLimit: 15_000 }));
  } finally {
    await nc.close();
  }
  const sum = (k: keyof IngestStats) => stats.reduce((a, st) => a + (st[k] ?? 0), 0);
  const seen = { ...faults, skipped: sum('skipped'), conflicts: sum('conflicts'), duplicates: sum('duplicates') };
  t.diagnostic(JSON.stringify(seen));
  // The faults this property is about did happen.
  for (const [k, v] of Object.entries(seen)) assert.ok(v > 0, `${k} never happened: ${JSON.stringify(seen)}`);
});
