import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvent, publishSession, TestStack, tradingSession, waitFor } from '@farmbrain/testing';

// Time travel: the state of an agent captured at a moment equals what ?as_of= rebuilds for that moment later,
// after the agent went on (new decisions, trades on its open positions, memory updates and forgets, state changes).
const stack = new TestStack({ partitions: 4 });
const session = tradingSession({ agents: 4, eventsPerAgent: 240, seed: 21, baseTime: Date.now() - 3_600_000, prefix: 'tt' });
const CUT = 110;

type State = Record<string, unknown> & { openPositions: { positionId: string; qty: number; tradeCount: number }[] };

before(async () => {
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering');
  await stack.start('gateway');
});
after(() => stack.destroy());

test('time travel - ?as_of= gives back the state captured at that moment, after the agent went on', async () => {
  await publishSession(stack.js, stack.names, session.map((evs) => evs.slice(0, CUT)), { perMessage: 10 });
  await stack.caughtUp();
  const captured = new Map<string, { at: number; state: State }>();
  for (const evs of session) {
    const id = evs[0]!.agentId;
    const r = await stack.get<State>(`/v1/agents/${id}`);
    assert.equal(r.status, 200);
    captured.set(id, { at: evs[CUT - 1]!.occurredAt, state: r.body });
  }
  await publishSession(stack.js, stack.names, session.map((evs) => evs.slice(CUT)), { perMessage: 10 });
  await stack.caughtUp();

  let changed = 0;
  for (const [id, { at, state }] of captured) {
    const then = await stack.get<{ state: State; asOf: string }>(`/v1/agents/${id}/state?as_of=${at}`);
    assert.equal(then.status, 200, JSON.stringify(then.body));
    assert.equal(then.body.asOf, new Date(at).toISOString());
    assert.deepEqual({ ...then.body.state, source: undefined }, { ...state, source: undefined }, `agent ${id} as of ${new Date(at).toISOString()}`);
    const nowState = (await stack.get<State>(`/v1/agents/${id}`)).body;
    if (JSON.stringify({ ...nowState, source: 0 }) !== JSON.stringify({ ...state, source: 0 })) changed++;
    // As of now: the current state.
    const current = await stack.get<{ state: State }>(`/v1/agents/${id}/state`);
    assert.deepEqual({ ...current.body.state, source: undefined }, { ...nowState, source: undefined });
  }
  assert.equal(changed, captured.size, 'every agent went on after the capture, so as_of had something to undo');
  const before = await stack.get(`/v1/agents/${session[0]![0]!.agentId}/state?as_of=${session[0]![0]!.occurredAt - 60_000}`);
  assert.equal(before.status, 404, 'before its first event the agent did not exist');
});

test('restore - an agent restored to a checkpoint has it as its current one (audited as an event) until it saves a newer one', async () => {
  const id = session[1]![0]!.agentId;
  const cps = await stack.all<{ checkpointId: string; occurredAt: string }>(`/v1/agents/${id}/checkpoints`);
  assert.ok(cps.length >= 2, 'the session saved checkpoints');
  const newest = cps[0]!;
  const oldest = cps[cps.length - 1]!;
  assert.equal((await stack.get<{ checkpointId: string }>(`/v1/agents/${id}/checkpoints/current`)).body.checkpointId, newest.checkpointId);

  const unknown = await stack.post(`/v1/agents/${id}/restore`, { checkpointId: '0190a0b0-0000-7000-8000-0000000000ff' });
  assert.equal(unknown.status, 404);
  const r = await stack.post<{ eventId: string }>(`/v1/agents/${id}/restore`, { checkpointId: oldest.checkpointId, reason: 'bad run after it', operator: 'ops-1' });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const current = await waitFor('the restore to apply', async () => {
    const c = await stack.get<{ checkpointId: string; restored: { operator: string; reason: string; eventId: string } | null }>(`/v1/agents/${id}/checkpoints/current`);
    return c.body.checkpointId === oldest.checkpointId ? c.body : undefined;
  });
  assert.deepEqual({ ...current.restored, at: undefined }, { at: undefined, operator: 'ops-1', reason: 'bad run after it', eventId: r.body.eventId });
  assert.equal((await stack.get<{ checkpoint: { checkpointId: string } }>(`/v1/agents/${id}/state`)).body.checkpoint.checkpointId, oldest.checkpointId);

  // A newer save is current again.
  const last = session[1]![session[1]!.length - 1]!;
  const cp = makeEvent(id, 'checkpoint_saved', { label: 'after-restore', state: new Uint8Array([1, 2, 3]) }, { producerSeq: last.producerSeq + 10, occurredAt: Date.now() });
  await stack.js.publish(stack.names.ingressSubject(id), (await import('@farmbrain/contracts')).encodeBatch([cp]), { msgID: cp.eventId });
  await waitFor('the new checkpoint to be current', async () => (await stack.get<{ checkpointId: string }>(`/v1/agents/${id}/checkpoints/current`)).body.checkpointId === cp.eventId);
});
