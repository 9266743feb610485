import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, type JetStreamClient, type JetStreamManager, type JetStreamPublishOptions, type JsMsg, type PubAck } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { decodeBatch, defaultEventLimits, EMPTY_SCOPE_POLICY, encodeBatch, HEADERS, names as makeNames, type FarmEvent, type Names } from '@farmbrain/contracts';
import { COMMON_DEFAULTS, connectNats, createLogger, defaultStreamSettings, jetstreamManager, provisionStreams } from '@farmbrain/platform';
import { makeEvent, readStream, uniqueNamespace } from '@farmbrain/testing';
import { createIngestHandler, type IngestStats } from './ingester.js';

const url = process.env.NATS_URL ?? COMMON_DEFAULTS.natsUrl;
const log = createLogger('ingest-test', 'silent');

let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
const namespaces: Names[] = [];

before(async () => {
  nc = await connectNats(url, 'ingest-handler-test');
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
});

after(async () => {
  for (const n of namespaces) for (const s of [n.ingressStream, n.eventsStream, n.deadLetterStream]) await jsm.streams.delete(s).catch(() => undefined);
  await nc.close();
});

async function fresh(): Promise<Names> {
  const n = makeNames(uniqueNamespace('ing'), 1);
  namespaces.push(n);
  await provisionStreams(jsm, n, defaultStreamSettings());
  return n;
}

const stats = (): IngestStats => ({ messages: 0, forwardedEvents: 0, deadLettered: 0 });
const handlers = (n: Names, st = stats(), client = js) =>
  createIngestHandler({ js: client, jsm, names: n, limits: defaultEventLimits(), scopes: EMPTY_SCOPE_POLICY, log }, st);

let producerSeq = 0;
const decision = (agentId: string, confidence = 0.5): FarmEvent =>
  makeEvent(agentId, 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence, rationale: '', situation: [], memoryIds: [] }, { producerSeq: ++producerSeq });

const readAll = (stream: string): Promise<JsMsg[]> => readStream(js, jsm, stream);

async function publish(n: Names, events: FarmEvent[], hdrs: Record<string, string> = {}): Promise<void> {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  await js.publish(n.ingressSubject(events[0]!.agentId), encodeBatch(events), { headers: h });
}

const ingressSeqs = (msgs: readonly JsMsg[], subject?: string) =>
  msgs.filter((m) => !subject || m.subject === subject).map((m) => Number(m.headers?.get(HEADERS.ingressSeq)));

test('ingest - a replay that passes again carries Fb-Replay-Of onto the canonical log; one that fails is dead-lettered again, unmarked', async () => {
  const n = await fresh();
  const ok = decision('ra');
  const bad = decision('ra', 7);
  const partOk = decision('ra');
  const partBad = decision('ra', 9);
  await publish(n, [ok], { [HEADERS.replayOf]: '42' });
  await publish(n, [bad], { [HEADERS.replayOf]: '43' });
  await publish(n, [partOk, partBad], { [HEADERS.replayOf]: 'i:44' });
  await publish(n, [decision('ra')]);
  await publish(n, [decision('ra')], { [HEADERS.replayOf]: `i:${'9'.repeat(400)}` });
  const st = stats();
  await handlers(n, st).open(0)(await readAll(n.ingressStream));

  const canonical = await readAll(n.eventsStream);
  assert.deepEqual(canonical.map((m) => m.headers?.get(HEADERS.replayOf) ?? ''), ['42', '', '', '', `i:${'9'.repeat(254)}`]);
  assert.deepEqual(decodeBatch(canonical[0]!.data).map((e) => e.event!.eventId), [ok.eventId]);
  assert.equal(canonical[1]!.headers?.get(HEADERS.rejected), '1');
  assert.equal(canonical[1]!.data.byteLength, 0);
  assert.deepEqual(decodeBatch(canonical[2]!.data).map((e) => e.event!.eventId), [partOk.eventId]);

  const dlq = await readAll(n.deadLetterStream);
  assert.deepEqual(dlq.map((m) => m.headers?.get(HEADERS.eventId)), [bad.eventId, partBad.eventId]);
  assert.deepEqual(dlq.map((m) => m.headers?.get(HEADERS.reasonCode)), ['OUT_OF_RANGE', 'OUT_OF_RANGE']);
  assert.deepEqual({ messages: st.messages, forwardedEvents: st.forwardedEvents, deadLettered: st.deadLettered }, { messages: 5, forwardedEvents: 4, deadLettered: 2 });
});

/** A client that publishes without message ids: as if the dedupe window had passed since the first publish. */
const withoutDedupe = (client: JetStreamClient): JetStreamClient => ({
  publish: (subject: string, data?: Uint8Array, opts?: Partial<JetStreamPublishOptions>) => {
    const h = natsHeaders();
    for (const k of opts?.headers?.keys() ?? []) if (k !== 'Nats-Msg-Id') for (const v of opts!.headers!.values(k)) h.append(k, v);
    const { msgID: _drop, ...rest } = opts ?? {};
    return client.publish(subject, data, { ...rest, headers: h });
  },
}) as unknown as JetStreamClient;

for (const dedupe of [true, false]) {
  test(`ingest - a stale owner resuming after a takeover publishes nothing twice and nothing out of order (${dedupe ? 'within' : 'past'} the dedupe window)`, async () => {
    const n = await fresh();
    for (let i = 0; i < 6; i++) await publish(n, [decision('za')]);
    for (let i = 0; i < 2; i++) await publish(n, [decision('zb')]);
    const ingress = await readAll(n.ingressStream);
    const za = ingress.filter((m) => m.subject.endsWith('.za'));
    const zb = ingress.filter((m) => m.subject.endsWith('.zb'));

    const zombieStats = stats();
    const zombie = handlers(n, zombieStats, dedupe ? js : withoutDedupe(js)).open(0);
    await zombie(za.slice(0, 2)); // then "SIGSTOP": its cache knows za up to its message 2
    const ownerStats = stats();
    const owner = handlers(n, ownerStats, dedupe ? js : withoutDedupe(js)).open(0); // takes the partition over, cold
    await owner(za.slice(0, 4));
    assert.equal(ownerStats.skipped, 2, 'the cold owner learnt from the log that za 1-2 are there');
    // The zombie resumes with the batch it had in hand and the next ones: its expectation is stale.
    await zombie([...za.slice(2, 6), ...zb]);
    await owner([...za.slice(4, 6), ...zb]);

    const canonical = await readAll(n.eventsStream);
    assert.deepEqual(ingressSeqs(canonical, n.eventsSubject('za')), za.map((m) => m.seq));
    assert.deepEqual(ingressSeqs(canonical, n.eventsSubject('zb')), zb.map((m) => m.seq));
    assert.equal(canonical.length, 8);
    if (dedupe) assert.equal(zombieStats.duplicates, 2, 'za 3-4 deduplicated by message id');
    else {
      assert.equal(zombieStats.duplicates ?? 0, 0);
      assert.equal(zombieStats.conflicts, 1, 'the stale expectation was refused once');
      assert.equal(zombieStats.skipped, 2, 'za 3-4 found in the log');
      assert.equal(ownerStats.conflicts, 1, 'the owner found za moved on by the zombie (za 5-6)');
    }
  });
}

test('ingest - a failed publish stops only its agent, every other agent completes before the batch fails, and the retry resumes in order', async () => {
  const n = await fresh();
  for (let i = 0; i < 3; i++) {
    await publish(n, [decision('fa')]);
    await publish(n, [decision('fb')]);
  }
  const ingress = await readAll(n.ingressStream);
  let failNext = true;
  let inFlight = 0;
  const client = {
    publish: async (subject: string, data?: Uint8Array, opts?: Partial<JetStreamPublishOptions>): Promise<PubAck> => {
      if (subject === n.eventsSubject('fa') && failNext && opts?.headers?.get(HEADERS.ingressSeq) === String(ingress[2]!.seq)) {
        failNext = false;
        throw new Error('injected');
      }
      inFlight++;
      // fb's chain is slower than the failure: the batch must still wait for it.
      if (subject === n.eventsSubject('fb')) await new Promise((r) => setTimeout(r, 20));
      try {
        return await js.publish(subject, data, opts);
      } finally {
        inFlight--;
      }
    },
  } as unknown as JetStreamClient;
  const handle = handlers(n, stats(), client).open(0);
  await assert.rejects(handle(ingress), /injected/);
  assert.equal(inFlight, 0, 'nothing in flight once the batch failed');
  let canonical = await readAll(n.eventsStream);
  assert.deepEqual(ingressSeqs(canonical, n.eventsSubject('fa')), [ingress[0]!.seq], 'fa stopped at its failed message');
  assert.deepEqual(ingressSeqs(canonical, n.eventsSubject('fb')), [ingress[1]!.seq, ingress[3]!.seq, ingress[5]!.seq]);
  await handle(ingress);
  canonical = await readAll(n.eventsStream);
  assert.deepEqual(ingressSeqs(canonical, n.eventsSubject('fa')), [ingress[0]!.seq, ingress[2]!.seq, ingress[4]!.seq]);
  assert.equal(canonical.length, 6);
});
