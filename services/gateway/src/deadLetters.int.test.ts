import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FarmbrainAgent } from '@farmbrain/sdk';
import { TestStack, waitFor } from '@farmbrain/testing';
import type { RecallResponse } from './memory/types.js';
import type { DeadLetterItem } from './deadLetters/deadLetterStore.js';

/**
 * Nothing accepted is dropped silently: what ingest rejects and what the
 * projection skips on purpose both leave a dead letter a user can list, a
 * projection dead letter can be replayed after the cause is fixed, and a read
 * waiting on a rejected write resolves at once and says why.
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
  const replay = await stack.post<{ id: string; eventId: string }>(`/v1/dead-letters/${encodeURIComponent(letter.id)}/replay`, {});
  assert.equal(replay.status, 202, JSON.stringify(replay.body));
  assert.equal(replay.body.eventId, update.eventId);
  await stack.caughtUp();
  const mem = await stack.pool.query<{ version: number; text: string }>('SELECT version, text FROM memories WHERE memory_id = $1', [memoryId]);
  assert.deepEqual(mem.rows[0], { version: 2, text: 'revised: wait for the retest' }, 'the replayed update applied once');
  const [after] = (await deadLetters('agentId=dl-1&code=UNKNOWN_MEMORY')).filter((d) => d.id === letter.id);
  assert.ok(after?.replayedAt, 'the dead letter is marked replayed');
  const again = await stack.post<{ error: { code: string } }>(`/v1/dead-letters/${encodeURIComponent(letter.id)}/replay`, {});
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'ALREADY_REPLAYED');
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
