import { after, before, test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JsMsg } from '@nats-io/jetstream';
import { createLogger, openAiEmbedder } from '@farmbrain/platform';
import { newTieringStats } from './tieringProjection.js';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeBatch,
  defaultEventLimits,
  encodeBatch,
  farmbrain,
  frameBatch,
  HEADERS,
  newEventId,
  parseScopePolicy,
  partitionOf,
  SCHEMA_VERSION,
  withDefaults,
  type EventType,
  type FarmEvent,
  type PayloadInput,
} from '@farmbrain/contracts';
import type { ViewLimits } from '@farmbrain/store';
import {
  canonicalMessages,
  cutBatches,
  groupIntoMessages,
  incompressible,
  interleave,
  propertyRuns,
  redisDigest,
  ruleEventArb,
  tradingSessionArb,
  warmDigest,
  type CanonicalMsg,
  type MessageSpec,
} from '@farmbrain/testing';
// ingest's pure verdict on an ingress message (services/ingest is a project reference of this package).
import { triage } from '../../ingest/dist/ingest/triage.js';
import { Rigs, type DeadLetterRow, type Rig } from './testRig.js';
import { LIFECYCLE_SKIP_CODES } from './warm/lifecycle.js';

/**
 * Poison isolation, in-process against the local Postgres and Redis: events
 * published around ingest (NUL, lone surrogates, non-finite numbers, oversized
 * ids, bad enums, malformed ids, someone else's memories, undecodable bytes)
 * never stall the partition, each ends applied or dead-lettered with a reason,
 * and the valid events around them are applied as if they were alone.
 */

const PARTITION = 0;
const KEEP: ViewLimits = { decisions: 4, memories: 3 };
/** The valid sessions start here; the hostile events are a day later (so a failed decision looks newest). */
const T0 = 1_700_000_000_000;
const NOW = T0 + 86_400_000;
let rigs: Rigs;

before(async () => {
  rigs = await Rigs.open('poison-test', { prefix: 'po', keep: KEEP, partition: PARTITION });
});
after(() => rigs.close());

const withRigs = <T>(n: number, fn: (...rigs: Rig[]) => Promise<T>): Promise<T> => rigs.with(n, fn);

/**
 * Feeds batches to a fresh handler; a rejected promise means the partition would
 * retry that batch forever (stalled), so it fails the test with the batch's content.
 * After each batch, the hot copies of its agents must be what Postgres gives.
 */
async function feed(rig: Rig, batches: readonly (readonly CanonicalMsg[])[]): Promise<void> {
  const handle = rig.handler();
  for (const b of batches) {
    await handle(b).catch((err: Error & { code?: string }) => {
      const what = b.map((m) => `seq ${m.seq} ${JSON.stringify(m.subject.slice(0, 80))}: ${describeBody(m.data)}`).join('\n  ');
      assert.fail(`the handler rejected (the partition stalls, retrying forever): ${err.code ?? ''} ${err.message}\n  ${what}`);
    });
    await rig.assertHotIsPostgres(b.map((m) => agentOf(m.subject)), { asServed: true });
  }
}

const agentOf = (subject: string) => subject.slice(subject.lastIndexOf('.') + 1);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const printable = (s: string, n = 60) => JSON.stringify(s.length > n ? `${s.slice(0, n)}…(${s.length})` : s);

function describeBody(data: Uint8Array): string {
  try {
    return decodeBatch(data).map((x) => (x.event ? `${x.event.type} ${printable(x.event.eventId, 40)} ${printable(JSON.stringify(x.event.data, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)), 300)}` : `undecodable (${x.error?.message})`)).join(' | ');
  } catch (err) {
    return `not an EventBatch (${(err as Error).message})`;
  }
}

const DEAD_LETTER_CODES = new Set(['APPLY_FAILED', 'DECODE_ERROR', 'INVALID_EVENT', 'NOT_OWNER', 'UNKNOWN_MEMORY', 'MEMORY_FORGOTTEN', 'MEMORY_EXISTS', 'NOT_CONSOLIDABLE', 'UNKNOWN_CHECKPOINT', ...LIFECYCLE_SKIP_CODES]);
/** The projection's own verdicts on an event it chose not to apply (not a store failure). */
const SKIP_CODES = new Set(['NOT_OWNER', 'UNKNOWN_MEMORY', 'MEMORY_FORGOTTEN', 'MEMORY_EXISTS', 'NOT_CONSOLIDABLE', 'UNKNOWN_CHECKPOINT', ...LIFECYCLE_SKIP_CODES]);

/** Every dead letter says what and why. */
function assertWellFormedLetters(letters: readonly DeadLetterRow[]): void {
  for (const l of letters) {
    assert.ok(DEAD_LETTER_CODES.has(l.code), `dead letter with unknown code ${l.code}`);
    assert.ok(l.reason.trim().length > 0, `dead letter ${l.code} without a reason`);
    if (l.code === 'APPLY_FAILED') assert.match(l.sqlstate ?? '', /^[0-9A-Z]{5}$/, `APPLY_FAILED without an SQLSTATE: ${l.reason}`);
  }
}

// ---- hostile input ---------------------------------------------------------------------------------

/** One message published straight onto the canonical stream: an event (hostile somewhere) or raw bytes. */
interface Hostile {
  /** The agent of the subject. */
  agentId: string;
  event?: FarmEvent;
  raw?: Uint8Array;
  why: string;
}

const HOSTILE_AGENTS = ['hx-1', 'hx-2'];
/** Agent ids a publisher can put in a subject (NATS stores all of these; 3000 characters is near its control-line limit). */
const ODD_AGENTS = ['hx\u0000nul', 'hx\u0001ctl', 'é漢-agent', `hx-${incompressible(3000, 7)}`];

const noPayload = (agentId: string) =>
  fc.uuid({ version: 7 }).map((eventId) => frameBatch([farmbrain.v1.Event.encode({ eventId, agentId, producerSeq: 1, occurredAtMs: NOW, schemaVersion: SCHEMA_VERSION }).finish()]));

function hostileArb(validAgents: readonly string[], memories: readonly { id: string; owner: string }[]): fc.Arbitrary<Hostile> {
  const anyAgent = fc.constantFrom(...validAgents, ...HOSTILE_AGENTS);
  const field = anyAgent.chain((a) => ruleEventArb({ agentId: a, now: NOW, mode: 'hostile', upperCaseIds: false }).map((event): Hostile => ({ agentId: a, event, why: 'a field its rule refuses' })));
  const mismatch = fc.tuple(anyAgent, anyAgent).filter(([a, b]) => a !== b)
    .chain(([a, b]) => ruleEventArb({ agentId: a, now: NOW, mode: 'edge', upperCaseIds: false }).map((event): Hostile => ({ agentId: b, event, why: "another agent's subject" })));
  const raw = fc.tuple(anyAgent, fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => Uint8Array.of(0x0f, ...b)), fc.constant(new Uint8Array([0x0a, 0x7f, 0x01]))))
    .map(([a, bytes]): Hostile => ({ agentId: a, raw: bytes, why: 'undecodable bytes' }));
  const payloadless = anyAgent.chain((a) => noPayload(a).map((bytes): Hostile => ({ agentId: a, raw: bytes, why: 'an event without payload' })));
  const targets = [...memories, { id: 'm-nobody', owner: '' }];
  const meddle = fc.record({ by: anyAgent, target: fc.constantFrom(...targets), forget: fc.boolean(), eventId: fc.uuid({ version: 7 }), seq: fc.integer({ min: 1, max: 2 ** 40 }) })
    .filter((m) => m.by !== m.target.owner)
    .map(({ by, target, forget, eventId, seq }): Hostile => ({
      agentId: by,
      why: "someone else's or an unknown memory",
      event: forget
        ? mk(by, 'memory_forgotten', { memoryId: target.id, reason: 'mine now' }, seq, NOW, eventId)
        : mk(by, 'memory_updated', { memoryId: target.id, text: 'overwritten', tags: ['x'], replaceTags: true }, seq, NOW, eventId),
    }));
  const odd = fc.constantFrom(...ODD_AGENTS).chain((a) => ruleEventArb({ agentId: a, now: NOW, mode: 'edge', upperCaseIds: false }).map((event): Hostile => ({ agentId: a, event, why: 'an odd agent id in the subject' })));
  return fc.oneof(
    { weight: 10, arbitrary: field },
    { weight: 1, arbitrary: mismatch },
    { weight: 1, arbitrary: raw },
    { weight: 1, arbitrary: payloadless },
    { weight: 2, arbitrary: meddle },
    { weight: 1, arbitrary: odd },
  );
}

function mk<T extends EventType>(agentId: string, type: T, data: PayloadInput<T>, producerSeq: number, occurredAt: number, eventId: string): FarmEvent {
  return { eventId, agentId, producerSeq, occurredAt, correlationId: '', causationId: '', schemaVersion: SCHEMA_VERSION, type, data: withDefaults(type, data) } as FarmEvent;
}

/** What the projection must do with a hostile message: dead-letter it (by stream sequence) with `code`, or key it by event id. */
type Expect = { kind: 'letter'; code: string } | { kind: 'keyed'; event: FarmEvent };

function expectOf(h: Hostile): Expect[] {
  if (h.raw) {
    let entries;
    try {
      entries = decodeBatch(h.raw);
    } catch {
      return [{ kind: 'letter', code: 'DECODE_ERROR' }];
    }
    return entries.map((x) => (x.event ? keyedOrUnfit(x.event, h.agentId) : { kind: 'letter', code: 'DECODE_ERROR' }));
  }
  // What the projection sees is the event after protobuf, not the object we built.
  const entries = decodeOrUndefined(encodeBatch([h.event!]));
  if (!entries) return [{ kind: 'letter', code: 'DECODE_ERROR' }];
  return [entries[0]!.event ? keyedOrUnfit(entries[0]!.event, h.agentId) : { kind: 'letter', code: 'DECODE_ERROR' }];
}

/**
 * The entries of a message body, or undefined when the body as a whole does not
 * decode (a lone surrogate makes invalid UTF-8: the whole message is then one
 * DECODE_ERROR dead letter, whatever else it holds).
 */
function decodeOrUndefined(body: Uint8Array) {
  try {
    return decodeBatch(body);
  } catch {
    return undefined;
  }
}

const keyedOrUnfit = (e: FarmEvent, subjectAgent: string): Expect =>
  !UUID.test(e.eventId) || e.agentId !== subjectAgent ? { kind: 'letter', code: 'INVALID_EVENT' } : { kind: 'keyed', event: e };

// ---- property 1: hostile events around ingest --------------------------------------------------------

const mixed = tradingSessionArb({ agents: { min: 2, max: 3 }, events: { min: 4, max: 20 }, prefix: 'pv', baseTime: T0 }).chain((sessions) => {
  const agents = sessions.map((s) => s[0]!.agentId);
  const memories = sessions.flat().flatMap((e) => (e.type === 'memory_stored' ? [{ id: e.data.memoryId, owner: e.agentId }] : []));
  return fc.record({
    sessions: fc.constant(sessions),
    hostile: fc.array(fc.record({ input: hostileArb(agents, memories), pos: fc.nat(), into: fc.boolean() }), { minLength: 1, maxLength: 10 }),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
    messageSizes: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
    cuts: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
  });
});

/** Per hostile kind: how often it was applied, and how often dead-lettered with each code (reported at the end). */
const tally = new Map<string, Map<string, number>>();
const count = (why: string, outcome: string) => {
  const m = tally.get(why) ?? new Map<string, number>();
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
  tally.set(why, m);
};

test('poison - property: hostile events published around ingest never stall the partition; each is applied or dead-lettered with a reason; the valid events around them apply as if alone', async (t) => {
  await fc.assert(
    fc.asyncProperty(mixed, async (s) => {
      const valid = s.sessions.flat();
      const clean = groupIntoMessages(interleave(s.sessions, s.picks), s.messageSizes);
      // Each hostile input alone in a message, or slipped into a message of valid events of the same agent
      // (unless it makes the whole message undecodable: then nothing of that message can be applied).
      const msgs: MessageSpec[] = clean.map((m) => ({ ...m, events: [...m.events] }));
      const placed: { h: Hostile; spec: MessageSpec }[] = [];
      for (const { input: h, pos, into } of s.hostile) {
        const host = msgs.filter((m) => m.agentId === h.agentId && !m.raw && !placed.some((p) => p.spec === m));
        if (into && h.event && host.length > 0 && decodeOrUndefined(encodeBatch([h.event]))) {
          const spec = host[pos % host.length]!;
          spec.events.splice(pos % (spec.events.length + 1), 0, h.event);
          placed.push({ h, spec });
        } else {
          const spec: MessageSpec = h.raw ? { agentId: h.agentId, events: [], raw: h.raw } : { agentId: h.agentId, events: [h.event!] };
          msgs.splice(pos % (msgs.length + 1), 0, spec);
          placed.push({ h, spec });
        }
      }
      await withRigs(2, async (mix, alone) => {
        const batches = cutBatches(msgs, s.cuts);
        const fed = canonicalMessages(mix.ns, PARTITION, batches);
        await feed(mix, fed);
        await feed(alone, canonicalMessages(alone.ns, PARTITION, cutBatches(clean, s.cuts)));

        const letters = await mix.deadLetters();
        assertWellFormedLetters(letters);

        // Every hostile input is accounted for.
        const seqOf = new Map(batches.flat().map((spec, i) => [spec, fed.flat()[i]!.seq]));
        let allDead = true;
        for (const { h, spec } of placed) {
          const seq = seqOf.get(spec)!;
          for (const x of expectOf(h)) {
            if (x.kind === 'letter') {
              assert.ok(letters.some((l) => l.stream_seq === seq && l.code === x.code), `${h.why} (seq ${seq}): expected a ${x.code} dead letter; got ${JSON.stringify(letters.filter((l) => l.stream_seq === seq))}`);
              count(h.why, x.code);
              continue;
            }
            const letter = letters.find((l) => l.event_id === x.event.eventId.toLowerCase());
            if (letter) {
              count(h.why, letter.code === 'APPLY_FAILED' ? `APPLY_FAILED ${letter.sqlstate}` : letter.code);
              continue;
            }
            allDead = false;
            count(h.why, 'applied');
            assert.ok(await mix.hasRow(x.event), `${h.why}: ${x.event.type} ${x.event.eventId} is neither applied nor dead-lettered: ${describeBody(encodeBatch([x.event]))}`);
          }
        }

        // The valid events end as they do without the hostile ones around them.
        assert.deepEqual(await mix.fates(valid), await alone.fates(valid), 'each valid event ends as it does alone');
        if (allDead) {
          // Nothing hostile got in: the stores are those of the valid events alone.
          assert.deepEqual(await warmDigest(mix.pool), await warmDigest(alone.pool), 'warm tables as with the valid events alone');
          assert.deepEqual(await redisDigest(rigs.redis, `${mix.ns}:`), await redisDigest(rigs.redis, `${alone.ns}:`), 'hot state as with the valid events alone');
        } else {
          // Some hostile event was applied (and may have moved positions or agent state): compare what each valid event wrote itself.
          for (const [table, key, drop] of [['decisions', 'event_id', ''], ['trades', 'event_id', ''], ['checkpoints', 'event_id', ''], ['recalls', 'recall_id', ''], ['position_closes', 'event_id', 'position_id'], ['memory_versions', 'event_id', '']] as const) {
            const q = `SELECT ${key}::text AS id, to_jsonb(x) - 'stream_seq' - '${drop}' AS row FROM ${table} x WHERE ${key} = ANY($1::uuid[]) ORDER BY 1`;
            const ids = valid.map((e) => e.eventId);
            assert.deepEqual((await mix.pool.query(q, [ids])).rows, (await alone.pool.query(q, [ids])).rows, `${table}: the valid events' rows`);
          }
        }
        await mix.assertHotIsPostgres([...valid.map((e) => e.agentId), ...placed.map((p) => p.h.agentId)], { asServed: true });
      });
    }),
    propertyRuns(40, { interruptAfterTimeLimit: 25_000 }),
  );
  t.diagnostic(`outcomes by kind of hostile input: ${JSON.stringify(Object.fromEntries([...tally].map(([k, v]) => [k, Object.fromEntries(v)])))}`);
  for (const why of ['a field its rule refuses', "another agent's subject", 'undecodable bytes', 'an event without payload', "someone else's or an unknown memory"]) {
    assert.ok(tally.has(why), `the generator produced ${why}`);
  }
});

// ---- property 2: nothing valid at ingest fails at a store --------------------------------------------

const P = 4;
const TRIAGE_AGENTS = ['tg-0', 'tg-1', 'tg-2'];
const MEMORY_POOL = ['h-m1', 'h-m2', 'h-m3'];
// Every writer may write every scope, so shared-scope stores reach the projection too.
const OPEN_POLICY = parseScopePolicy('{"writers":{"fleet":["*"],"team:*":["*"]}}');
const LIMITS = defaultEventLimits();

const ingressMessages = fc.array(
  fc.constantFrom(...TRIAGE_AGENTS).chain((agentId) =>
    fc.record({
      agentId: fc.constant(agentId),
      events: fc.array(
        fc.oneof(
          { weight: 4, arbitrary: ruleEventArb({ agentId, now: NOW, mode: 'edge', memoryIds: MEMORY_POOL }) },
          { weight: 1, arbitrary: ruleEventArb({ agentId, now: NOW, mode: 'hostile', memoryIds: MEMORY_POOL }) },
        ),
        { minLength: 1, maxLength: 4 },
      ),
    })),
  { minLength: 1, maxLength: 12 },
);

test('poison - property: nothing ingest accepts fails at a store (no APPLY_FAILED), and each accepted event is applied or refused by the projection\'s own rules', async () => {
  let accepted = 0;
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(ingressMessages, fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }), async (ingress, cuts) => {
      // What ingest forwards for each ingress message, exactly as it would (body and rejection marks).
      const forwarded: MessageSpec[] = [];
      ingress.forEach((m, i) => {
        const v = triage({ subject: `ns.in.${partitionOf(m.agentId, P)}.${m.agentId}`, data: encodeBatch(m.events), storedAt: NOW, partitions: P, limits: LIMITS, scopes: OPEN_POLICY });
        if (!v.valid && v.rejected.length === 0) return;
        const headers: Record<string, string> = { [HEADERS.ingressSeq]: String(i + 1) };
        if (v.rejected.length > 0) Object.assign(headers, { [HEADERS.rejected]: String(v.rejected.length), [HEADERS.reasonCode]: v.rejected[0]!.code, [HEADERS.reason]: v.rejected[0]!.reason });
        forwarded.push({ agentId: m.agentId, events: v.valid?.events ?? [], raw: v.valid?.body ?? new Uint8Array(), headers });
      });
      const all = forwarded.flatMap((m) => m.events);
      accepted += all.length;
      runs += 1;
      // A later event under an id already used is a duplicate: the first copy wins (exactlyOnce.int.test.ts).
      const events = all.filter((e, i) => all.findIndex((x) => x.eventId.toLowerCase() === e.eventId.toLowerCase()) === i);
      await withRigs(1, async (rig) => {
        await feed(rig, canonicalMessages(rig.ns, PARTITION, cutBatches(forwarded, cuts)));
        const letters = await rig.deadLetters();
        assertWellFormedLetters(letters);
        const failed = letters.filter((l) => l.code === 'APPLY_FAILED');
        assert.deepEqual(failed.map((l) => `${l.event_type} ${l.sqlstate}: ${l.reason}`), [], `events ingest accepted failed at a store:\n${failed.map((l) => describeBody(encodeBatch(events.filter((e) => e.eventId.toLowerCase() === l.event_id)))).join('\n')}`);
        const fates = await rig.fates(events);
        for (const e of events) {
          const fate = fates.get(e.eventId.toLowerCase())!;
          assert.ok(fate === 'applied' || fate === 'not-handled' || SKIP_CODES.has(fate), `${e.type} ${e.eventId} ingest accepted ended '${fate}' (${fate === 'missing' ? 'no row, no dead letter' : 'a store refused it'})`);
        }
      });
    }),
    propertyRuns(100, { interruptAfterTimeLimit: 20_000 }),
  );
  // How many runs fit in the time limit depends on the machine; what the generator gives per run does not.
  assert.ok(runs >= 5 && accepted >= 2 * runs, `ingest accepted enough events to say something (${accepted} in ${runs} runs)`);
  console.log(`poison property: ${accepted} accepted events in ${runs} runs`);
});

// ---- one example per way the projection was found to fail (each also turns up in the properties above) ----

const ev = <T extends EventType>(agentId: string, type: T, data: PayloadInput<T>, producerSeq: number, occurredAt = NOW) =>
  mk(agentId, type, data, producerSeq, occurredAt, newEventId());
const decision = (agentId: string, producerSeq: number, occurredAt = NOW, rationale = 'why') =>
  ev(agentId, 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence: 0.5, rationale }, producerSeq, occurredAt);

const nextSeq = new WeakMap<Rig, number>();
/** Feeds one more batch (stream sequences go on from the last one) and returns the dead letters so far. */
async function oneBatch(rig: Rig, msgs: MessageSpec[]) {
  const first = nextSeq.get(rig) ?? 1;
  nextSeq.set(rig, first + msgs.length);
  await feed(rig, canonicalMessages(rig.ns, PARTITION, [msgs], first));
  return rig.deadLetters();
}

test('poison - an agent id with NUL in the subject (NATS stores it) is dead-lettered; the partition goes on', async () => {
  await withRigs(1, async (rig) => {
    const bad = 'hx\u0000nul';
    const ok = decision('ok-1', 1);
    const letters = await oneBatch(rig, [{ agentId: bad, events: [decision(bad, 1)] }, { agentId: 'ok-1', events: [ok] }]);
    // The projection checks what it reads from the log by the contract's rules (as ingest does): refused before any store sees it.
    assert.deepEqual(letters.map((l) => [l.code, l.sqlstate]), [['INVALID_EVENT', null]]);
    assert.match(letters[0]!.reason, /agentId/);
    assert.ok(await rig.hasRow(ok), 'the valid decision in the same batch is applied');
  });
});

test('poison - an update or forget of a memory id with NUL is dead-lettered; the partition goes on', async () => {
  await withRigs(1, async (rig) => {
    const ok = decision('ok-1', 3);
    const letters = await oneBatch(rig, [{
      agentId: 'ok-1',
      events: [ev('ok-1', 'memory_updated', { memoryId: 'm\u0000x', text: 'new' }, 1), ev('ok-1', 'memory_forgotten', { memoryId: 'm\u0000y' }, 2), ok],
    }]);
    assert.deepEqual(letters.map((l) => l.code), ['INVALID_EVENT', 'INVALID_EVENT']);
    assert.ok(letters.every((l) => /memoryId/.test(l.reason)));
    assert.ok(await rig.hasRow(ok));
  });
});

test('poison - times Postgres stores but JavaScript dates cannot hold (past year 275760) are dead-lettered; the partition goes on', async () => {
  await withRigs(1, async (rig) => {
    const ok = decision('ok-1', 9);
    const far = 9e15; // ms: Postgres timestamps reach 294276 AD, a JS Date only ±8.64e15 ms
    const letters = await oneBatch(rig, [
      { agentId: 'hx-1', events: [decision('hx-1', 1, far)] },
      { agentId: 'hx-2', events: [ev('hx-2', 'memory_stored', { memoryId: 'h-far', kind: 'fact', text: 'forever', expiresAt: far }, 1)] },
      { agentId: 'hx-3', events: [ev('hx-3', 'memory_forgotten', { memoryId: 'h-nowhere' }, 1, 2 ** 53 + 2)] },
      { agentId: 'ok-1', events: [ok] },
    ]);
    assert.equal(letters.length, 3, `each far-future event is dead-lettered: ${JSON.stringify(letters)}`);
    assert.ok(await rig.hasRow(ok));
  });
});

test('poison - marker headers out of range (Fb-Rejected, Fb-Ingress-Seq) never stall the partition; the events of the message apply', async () => {
  await withRigs(1, async (rig) => {
    const cases: Record<string, string>[] = [
      { [HEADERS.rejected]: '1e400', [HEADERS.reasonCode]: 'OUT_OF_RANGE' },
      { [HEADERS.rejected]: '3000000000', [HEADERS.reasonCode]: 'OUT_OF_RANGE' },
      { [HEADERS.rejected]: '1.5' },
      { [HEADERS.ingressSeq]: '1e400' },
      { [HEADERS.ingressSeq]: '99999999999999999999' },
      { [HEADERS.ingressSeq]: '1.5' },
    ];
    const events = cases.map((_, i) => decision('ok-1', i + 1));
    for (const [i, headers] of cases.entries()) await oneBatch(rig, [{ agentId: 'ok-1', events: [events[i]!], headers }]);
    for (const e of events) assert.ok(await rig.hasRow(e), 'applied');
  });
});

test('poison - an update of another agent\'s memory in the batch that stores it (valid at ingest) leaves the owner\'s hot copy equal to Postgres', async () => {
  await withRigs(1, async (rig) => {
    // Both agents have a complete hot copy first (a first batch rebuilds an agent's copy whole from Postgres).
    await oneBatch(rig, [{ agentId: 'owner-1', events: [ev('owner-1', 'agent_registered', { name: 'owner' }, 1)] }, { agentId: 'other-1', events: [ev('other-1', 'agent_registered', { name: 'other' }, 1)] }]);
    const store = ev('owner-1', 'memory_stored', { memoryId: 'm-shared-id', kind: 'fact', text: 'mine' }, 2);
    const meddle = ev('other-1', 'memory_updated', { memoryId: 'm-shared-id', text: 'yours now' }, 2);
    const letters = await oneBatch(rig, [{ agentId: 'owner-1', events: [store] }, { agentId: 'other-1', events: [meddle] }]);
    assert.deepEqual(letters.map((l) => l.code), ['NOT_OWNER']);
    // oneBatch already compared every agent's hot copy with Postgres; say it for the owner in so many words:
    assert.deepEqual((await rig.hot.read('owner-1', KEEP))?.memories.map((m) => m.text), ['mine']);
  });
});

test('poison - a dead-lettered decision claiming to be the newest never hides the agent\'s real newest decisions from the hot copy', async () => {
  await withRigs(1, async (rig) => {
    await oneBatch(rig, [{ agentId: 'ok-1', events: [decision('ok-1', 1, T0 - 10, 'old')] }]); // a complete hot copy first
    const real = Array.from({ length: KEEP.decisions }, (_, i) => decision('ok-1', i + 2, T0 + i, `real ${i}`));
    const failed = decision('ok-1', 99, NOW, 'NUL \u0000 in the rationale');
    const letters = await oneBatch(rig, [{ agentId: 'ok-1', events: [...real, failed] }]);
    assert.deepEqual(letters.map((l) => [l.code, l.sqlstate]), [['INVALID_EVENT', null]]);
    assert.deepEqual((await rig.hot.read('ok-1', KEEP))?.decisions.map((d) => d.rationale), ['real 3', 'real 2', 'real 1', 'real 0']);
  });
});

test('poison - an event the contract allows but the store refuses is dead-lettered APPLY_FAILED with its SQLSTATE, alone; the rest of its batch applies', async () => {
  await withRigs(1, async (rig) => {
    // The fault: a constraint the contract knows nothing of (as a migration ahead of the code might add).
    await rig.pool.query(`ALTER TABLE decisions ADD CONSTRAINT test_no_poison CHECK (rationale <> 'poison')`);
    const before = decision('ok-1', 1, T0, 'fine');
    const bad = decision('ok-1', 2, T0 + 1, 'poison');
    const after = decision('ok-1', 3, T0 + 2, 'fine too');
    const trade = ev('ok-1', 'trade_executed', { orderId: 'o-1', symbol: 'BTC', side: 'buy', qty: 2, price: 10 }, 4, T0 + 3);
    const letters = await oneBatch(rig, [{ agentId: 'ok-1', events: [before, bad] }, { agentId: 'ok-1', events: [after, trade] }]);
    assert.deepEqual(letters.map((l) => [l.code, l.sqlstate, l.event_id]), [['APPLY_FAILED', '23514', bad.eventId]], 'the check violation hit that event, and only it');
    assert.match(letters[0]!.reason, /test_no_poison/);
    for (const e of [before, after, trade]) assert.ok(await rig.hasRow(e), `${e.type} applied`);
    const pos = await rig.pool.query(`SELECT qty, trade_count FROM positions WHERE status = 'open'`);
    assert.deepEqual(pos.rows, [{ qty: 2, trade_count: 1 }], 'the fold ran once, in the isolated pass');
    assert.deepEqual((await rig.hot.read('ok-1', KEEP))?.decisions.map((d) => d.rationale), ['fine too', 'fine']);
  });
});

test('poison - an event the projection refuses (dead-lettered as UNKNOWN_MEMORY, NOT_OWNER...) leaves no trace: no agent row, no move of lastEventAt', async () => {
  await withRigs(1, async (rig) => {
    await oneBatch(rig, [{ agentId: 'ok-1', events: [ev('ok-1', 'agent_registered', { name: 'ok' }, 1, T0)] }]);
    const letters = await oneBatch(rig, [
      { agentId: 'stranger-1', events: [ev('stranger-1', 'memory_forgotten', { memoryId: 'm-nowhere' }, 1, NOW)] },
      { agentId: 'ok-1', events: [ev('ok-1', 'memory_updated', { memoryId: 'm-nowhere', text: 'x' }, 2, NOW)] },
    ]);
    assert.deepEqual(letters.map((l) => l.code), ['UNKNOWN_MEMORY', 'UNKNOWN_MEMORY']);
    const agents = await rig.pool.query<{ agent_id: string; last_event_at: Date }>('SELECT agent_id, last_event_at FROM agents ORDER BY agent_id');
    assert.deepEqual(agents.rows.map((r) => [r.agent_id, r.last_event_at.getTime()]), [['ok-1', T0]], 'only applied events make or move an agent');
  });
});

test('poison - a memory text the embeddings endpoint refuses (HTTP 400) is stored without a vector; the rest of the batch is embedded and the partition goes on', async () => {
  // A real OpenAI-compatible endpoint on localhost that refuses any request holding a text over its limit.
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const input = (JSON.parse(body) as { input: string[] }).input;
      if (input.some((t) => t.includes('TOO LONG'))) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"maximum context length exceeded"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ data: input.map((t, index) => ({ index, embedding: [1, t.length % 7, 3] })) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  try {
    await withRigs(1, async (rig) => {
      const embedder = openAiEmbedder({ url: `http://127.0.0.1:${port}/v1`, model: 'test-model' });
      const handle = rig.handler({ embedder, stats: newTieringStats() });
      const ok = ev('emb-1', 'memory_stored', { memoryId: 'm-ok', kind: 'fact', text: 'short enough' }, 1);
      const long = ev('emb-1', 'memory_stored', { memoryId: 'm-long', kind: 'fact', text: 'TOO LONG for the model' }, 2);
      const after = decision('emb-1', 3);
      const [batch] = canonicalMessages(rig.ns, PARTITION, [[{ agentId: 'emb-1', events: [ok, long, after] }]]);
      await handle(batch!);
      const rows = await rig.pool.query<{ memory_id: string; dims: number; model: string }>('SELECT memory_id, embedding_dims AS dims, embedding_model AS model FROM memories ORDER BY memory_id');
      assert.deepEqual(rows.rows, [{ memory_id: 'm-long', dims: 0, model: '' }, { memory_id: 'm-ok', dims: 3, model: 'openai-compat/test-model' }]);
      assert.ok(await rig.hasRow(after), 'the rest of the batch applied');
    });
  } finally {
    server.close();
  }
});
