import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, defaultEventLimits, encodeBatch, names, parseScopePolicy, type FarmEvent } from '@farmbrain/contracts';
import { makeEvent } from '@farmbrain/testing';
import { triage } from './triage.js';

const n = names('fb', 8);
const now = Date.now();
const decision = (agentId: string, confidence: number, seq: number) =>
  makeEvent(agentId, 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence, rationale: '', situation: [], memoryIds: [] }, { producerSeq: seq, occurredAt: now });
const input = (subject: string, events: FarmEvent[] | Uint8Array) => ({
  subject, data: events instanceof Uint8Array ? events : encodeBatch(events), storedAt: now, partitions: 8, limits: defaultEventLimits(),
});

test('ingest - a message of valid events is forwarded byte for byte', () => {
  const evs = [decision('a', 0.5, 1), decision('a', 0.6, 2)];
  const msg = input(n.ingressSubject('a'), evs);
  const t = triage(msg);
  assert.equal(t.rejected.length, 0);
  assert.equal(t.valid!.body, msg.data);
});

test('ingest - invalid events are split out with their reason, neighbours kept in order', () => {
  const good1 = decision('a', 0.5, 1);
  const bad = decision('a', 7, 2);
  const good2 = decision('a', 0.1, 3);
  const t = triage(input(n.ingressSubject('a'), [good1, bad, good2]));
  assert.deepEqual(decodeBatch(t.valid!.body).map((e) => e.event!.eventId), [good1.eventId, good2.eventId]);
  assert.equal(t.rejected.length, 1);
  assert.equal(t.rejected[0]!.eventId, bad.eventId);
  assert.equal(t.rejected[0]!.code, 'OUT_OF_RANGE');
  assert.match(t.rejected[0]!.reason, /confidence/);
});

test('ingest - events for another agent than the subject names are rejected', () => {
  const t = triage(input(n.ingressSubject('a'), [decision('b', 0.5, 1)]));
  assert.equal(t.valid, undefined);
  assert.equal(t.rejected[0]!.code, 'AGENT_MISMATCH');
});

test('ingest - a subject with the wrong partition token is rejected whole', () => {
  const right = n.ingressSubject('a');
  const wrongP = (Number(right.split('.')[2]) + 1) % 8;
  const t = triage(input(`fb.in.${wrongP}.a`, [decision('a', 0.5, 1)]));
  assert.equal(t.rejected[0]!.code, 'AGENT_MISMATCH');
  assert.match(t.rejected[0]!.reason, /partition/);
});

test('ingest - bytes that do not decode are dead-lettered as they came', () => {
  const garbage = new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0xff]);
  const t = triage(input(n.ingressSubject('a'), garbage));
  assert.equal(t.rejected[0]!.code, 'DECODE_ERROR');
  assert.deepEqual(t.rejected[0]!.body, garbage);
});

test('ingest - a shared memory from an agent that is not a writer of its scope is dead-lettered with SCOPE_FORBIDDEN', () => {
  const scopes = parseScopePolicy(JSON.stringify({ writers: { 'team:alpha': ['a1'], fleet: ['*'] } }));
  const mem = (agentId: string, scope: 'agent' | 'team' | 'fleet', scopeId: string, seq: number) =>
    makeEvent(agentId, 'memory_stored', { memoryId: `m${seq}`, kind: 'lesson', text: 'cut losers early', scope, scopeId }, { producerSeq: seq, occurredAt: now });
  const verdict = (agentId: string, evs: FarmEvent[]) => triage({ ...input(n.ingressSubject(agentId), evs), scopes });
  const ok = verdict('a1', [mem('a1', 'team', 'alpha', 1), mem('a1', 'fleet', '', 2), mem('a1', 'agent', '', 3)]);
  assert.equal(ok.rejected.length, 0);
  const denied = verdict('a2', [mem('a2', 'team', 'alpha', 1), mem('a2', 'agent', '', 2), mem('a2', 'team', 'beta', 3)]);
  assert.deepEqual(denied.valid?.events.map((e) => e.data), [denied.valid?.events[0]?.data]);
  assert.equal(denied.valid?.events[0]?.type, 'memory_stored');
  assert.deepEqual(denied.rejected.map((r) => [r.index, r.code]), [[0, 'SCOPE_FORBIDDEN'], [2, 'SCOPE_FORBIDDEN']]);
  assert.match(denied.rejected[0]!.reason, /not a writer of scope 'team:alpha'/);
  assert.match(denied.rejected[1]!.reason, /'team:beta' has no writers configured/);
  // Without a policy, shared scopes are read-only.
  const none = triage(input(n.ingressSubject('a1'), [mem('a1', 'fleet', '', 9)]));
  assert.equal(none.rejected[0]?.code, 'SCOPE_FORBIDDEN');
});

test('ingest - an imported message may hold events older than the past-skew limit; every other rule still holds', () => {
  const old = now - 400 * 86_400_000;
  const e = (confidence: number, seq: number) =>
    makeEvent('a', 'decision_made', { symbol: 'BTC', action: 'buy', size: 1, confidence, rationale: '', situation: [], memoryIds: [] }, { producerSeq: seq, occurredAt: old });
  const evs = [e(0.5, 1), e(7, 2)];
  const plain = triage(input(n.ingressSubject('a'), evs));
  assert.equal(plain.rejected[0]!.code, 'CLOCK_SKEW');
  assert.equal(plain.valid, undefined, 'without the import mark, a year-old event is refused');
  const imported = triage({ ...input(n.ingressSubject('a'), evs), imported: true });
  assert.deepEqual(decodeBatch(imported.valid!.body).map((x) => x.event!.eventId), [evs[0]!.eventId]);
  assert.deepEqual(imported.rejected.map((r) => r.eventId), [evs[1]!.eventId], 'the out-of-range confidence is still refused');
});
