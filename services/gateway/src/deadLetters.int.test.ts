import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FarmbrainAgent } from '@farmbrain/sdk';
import { publishRaw, TestStack, waitFor } from '@farmbrain/testing';
import type { RecallResponse } from './memory/types.js';
import type { DeadLetterItem } from '@farmbrain/contracts';

/**
 * Nothing accepted is dropped silently: what ingest rejects and what the
 * projection skips on purpose both leave a dead letter a user can list and
 * show; either kind can be replayed after the cause is fixed, and a replay goes
 * through ingest's checks again (so what is still wrong is dead-lettered
 * again); a read waiting on a rejected write resolves at once and says why.
 */
// A long consistency bound: a read that waited for a rejected write would show as a 503 after it.
const stack = new TestStack({ env: { FB_CONSISTENCY_TIMEOUT_MS: '30000' } });
let agent: FarmbrainAgent;

before(async () => {
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  await stack.start('gateway');
  agent = new FarmbrainAgent({ agentId: 'dl-1', connection: stack.nc, namespace: stack.namespace, partitions: stack.names.partitions, gateway: stack.gatewayUrl });
  await agent.register({ name: 'Dead letters' });
});
after(async () => {
  await agent.close();
  await stack.destroy();
});

const deadLetters = async (query: string) => {
  const r = await stack.get<{ items: DeadLetterItem[]; nextCursor: string | null }>(`/v1/dead-letters?${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.items;
};

test('dead letters - a read carrying the token of a write ingest rejected answers at once and says why', async () => {
  // No scope policy: a team memory is forbidden, and ingest dead-letters it (the SDK does not pre-check the policy).
  const forbidden = await agent.remember({ kind: 'lesson', text: 'team-only lesson', scope: 'team', scopeId: 'alpha' });
  const r = await stack.post<RecallResponse>('/v1/agents/dl-1/recall', { query: 'lesson', consistency: forbidden.consistencyToken });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.body.warnings?.some((w) => w.includes('rejected by ingest') && w.includes('SCOPE_FORBIDDEN')), JSON.stringify(r.body.warnings));
  assert.equal(r.body.hits.length, 0);
  const listed = await waitFor('the ingest dead letter', async () => (await deadLetters('source=ingest&agentId=dl-1')).find((d) => d.eventId === forbidden.eventId));
  assert.equal(listed.code, 'SCOPE_FORBIDDEN');
  assert.equal(listed.eventType, 'memory_stored');
});

test('dead letters - an update of a memory that does not exist yet is dead-lettered, and replays once it exists', async () => {
  const memoryId = 'dl-mem-1';
  const update = await agent.updateMemory({ memoryId, text: 'revised: wait for the retest' });
  await stack.caughtUp();
  const [letter] = (await deadLetters('agentId=dl-1&code=UNKNOWN_MEMORY')).filter((d) => d.eventId === update.eventId);
  assert.ok(letter, 'the update left a trace');
  assert.equal(letter.source, 'projection');
  assert.equal(letter.projection, 'tiering.v1');
  assert.match(letter.reason, /does not exist/);
  assert.equal(letter.replayedAt, null);

  await agent.remember({ memoryId, kind: 'lesson', text: 'breakouts need a retest' });
  await stack.caughtUp();
  const replay = await stack.post<{ id: string; eventId: string; streamSeq: number; consistencyToken: string }>(`/v1/dead-letters/${encodeURIComponent(letter.id)}/replay`, {});
  assert.equal(replay.status, 202, JSON.stringify(replay.body));
  assert.equal(replay.body.eventId, update.eventId);
  // The replay went to the agent's ingress subject, marked, like a producer batch.
  const onIngress = (await stack.jsm.streams.getMessage(stack.names.ingressStream, { seq: replay.body.streamSeq }))!;
  assert.equal(onIngress.subject, stack.names.ingressSubject('dl-1'));
  assert.equal(onIngress.header.get('Fb-Replay-Of'), letter.id.slice(2));
  assert.match(replay.body.consistencyToken, /^c1\./);
  await stack.caughtUp();
  const mem = await stack.pool.query<{ version: number; text: string }>('SELECT version, text FROM memories WHERE memory_id = $1', [memoryId]);
  assert.deepEqual(mem.rows[0], { version: 2, text: 'revised: wait for the retest' }, 'the replayed update applied once');
  const [after] = (await deadLetters('agentId=dl-1&code=UNKNOWN_MEMORY')).filter((d) => d.id === letter.id);
  assert.ok(after?.replayedAt, 'the dead letter is marked replayed');
  const again = await stack.post<{ error: { code: string } }>(`/v1/dead-letters/${encodeURIComponent(letter.id)}/replay`, {});
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'ALREADY_REPLAYED');
});

test('dead letters - one by id (GET /v1/dead-letters/:id), of either kind; unknown and malformed ids say so', async () => {
  const [projection] = await deadLetters('agentId=dl-1&code=UNKNOWN_MEMORY');
  const [ingest] = await deadLetters('source=ingest&agentId=dl-1');
  for (const letter of [projection!, ingest!]) {
    const r = await stack.get<DeadLetterItem>(`/v1/dead-letters/${encodeURIComponent(letter.id)}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, letter);
  }
  for (const id of ['p:999999999', 'i:999999999']) {
    const r = await stack.get<{ error: { code: string; message: string } }>(`/v1/dead-letters/${id}`);
    assert.equal(r.status, 404, id);
    assert.equal(r.body.error.code, 'NOT_FOUND');
    assert.match(r.body.error.message, /list them with GET \/v1\/dead-letters/);
    const replay = await stack.post<{ error: { code: string } }>(`/v1/dead-letters/${id}/replay`, {});
    assert.equal(replay.status, 404, `replay ${id}`);
  }
  const bad = await stack.get<{ error: { code: string; message: string } }>('/v1/dead-letters/x-1');
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /not a dead letter id: p:<n> .* or i:<n>/);
});

test('dead letters - an ingest dead letter replays through ingest again: refused while the policy still forbids it, applied once it allows it', async () => {
  const m = await agent.remember({ kind: 'lesson', text: 'shared with the team once allowed', scope: 'team', scopeId: 'alpha' });
  const first = await waitFor('the ingest dead letter', async () => (await deadLetters('source=ingest&agentId=dl-1&code=SCOPE_FORBIDDEN')).find((d) => d.eventId === m.eventId));
  const replay = (id: string) => stack.post<{ id: string; eventId: string; streamSeq: number; error?: { code: string } }>(`/v1/dead-letters/${encodeURIComponent(id)}/replay`, {});

  // Still forbidden: ingest checks the replay again and dead-letters it again, as a new dead letter.
  const r1 = await replay(first.id);
  assert.equal(r1.status, 202, JSON.stringify(r1.body));
  assert.equal(r1.body.eventId, m.eventId);
  const onIngress = (await stack.jsm.streams.getMessage(stack.names.ingressStream, { seq: r1.body.streamSeq }))!;
  assert.equal(onIngress.header.get('Fb-Replay-Of'), first.id);
  const again = await replay(first.id);
  assert.equal(again.status, 409, 'a replay moments ago is not sent twice');
  assert.equal(again.body.error?.code, 'ALREADY_REPLAYED');
  const second = await waitFor('the replay dead-lettered again', async () =>
    (await deadLetters('source=ingest&agentId=dl-1&code=SCOPE_FORBIDDEN')).find((d) => d.eventId === m.eventId && d.id !== first.id));

  // The fix: dl-1 may write team alpha's memories. The replay of the new dead letter is applied.
  await stack.kill('ingest');
  await stack.start('ingest', { FB_SCOPE_POLICY: JSON.stringify({ writers: { 'team:alpha': ['dl-1'] }, teams: {} }) });
  const r2 = await replay(second.id);
  assert.equal(r2.status, 202, JSON.stringify(r2.body));
  await stack.caughtUp();
  const mem = await stack.pool.query<{ scope: string; scope_id: string; text: string }>('SELECT scope, scope_id, text FROM memories WHERE memory_id = $1', [m.memoryId]);
  assert.deepEqual(mem.rows[0], { scope: 'team', scope_id: 'alpha', text: 'shared with the team once allowed' });
});

test('dead letters - a message that never decoded is listed but NOT_REPLAYABLE', async () => {
  await publishRaw(stack.js, stack.names.ingressSubject('dl-3'), new Uint8Array([0xff, 0xff, 0xff, 0x01]), 'garbage-1');
  const letter = await waitFor('the DECODE_ERROR dead letter', async () => (await deadLetters('source=ingest&agentId=dl-3&code=DECODE_ERROR'))[0]);
  const r = await stack.post<{ error: { code: string; message: string } }>(`/v1/dead-letters/${encodeURIComponent(letter.id)}/replay`, {});
  assert.equal(r.status, 409);
  assert.equal(r.body.error.code, 'NOT_REPLAYABLE');
  assert.match(r.body.error.message, /never decoded/);
});

test("dead letters - an update of another agent's memory is dead-lettered NOT_OWNER and changes nothing", async () => {
  const other = new FarmbrainAgent({ agentId: 'dl-2', connection: stack.nc, namespace: stack.namespace, partitions: stack.names.partitions });
  const m = await agent.remember({ kind: 'fact', text: 'mine' });
  await stack.caughtUp(); // the agents may be on different partitions: the memory must exist before the other's update
  const stolen = await other.updateMemory({ memoryId: m.memoryId, text: 'stolen' });
  await other.close();
  await stack.caughtUp();
  const [letter] = await deadLetters('agentId=dl-2&code=NOT_OWNER');
  assert.ok(letter);
  assert.match(letter.reason, /belongs to agent 'dl-1'/);
  const mem = await stack.pool.query<{ version: number; text: string }>('SELECT version, text FROM memories WHERE memory_id = $1', [m.memoryId]);
  assert.deepEqual(mem.rows[0], { version: 1, text: 'mine' });
  // A read on that write's token says it was not applied, and why.
  const r = await stack.post<RecallResponse>('/v1/agents/dl-1/recall', { query: 'mine', consistency: stolen.consistencyToken });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.body.warnings?.some((w) => w.includes('dead-lettered by the projection') && w.includes('NOT_OWNER')), JSON.stringify(r.body.warnings));
});

test('consistency - a token naming an ingress sequence the stream never reached is refused at once, not waited on', async () => {
  const r = await stack.post<{ error: { code: string; message: string } }>('/v1/agents/dl-1/recall', { query: 'x', consistency: 'c1.0:zzzzzz' });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'INVALID_CONSISTENCY_TOKEN');
  assert.match(r.body.error.message, /ingress stream ends at/);
});
