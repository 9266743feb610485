import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { decodeBatch, names as makeNames, type FarmEvent } from '@farmbrain/contracts';
import { provisionStreams } from '@farmbrain/platform';
import { freePort, waitFor } from '@farmbrain/testing';
import { FarmbrainAgent, OutboxFullError, InvalidEventError } from './index.js';

// A NATS server of this test's own, so it can be stopped without touching the shared one.
let port = 0;
let dir = '';
let server: ChildProcess | undefined;
const url = () => `nats://127.0.0.1:${port}`;
const names = makeNames('sdk_outage', 4);

async function startNats(): Promise<void> {
  server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
  await waitFor('nats-server to accept connections', async () => {
    const nc = await connect({ servers: url(), timeout: 500 });
    await nc.close();
    return true;
  }, 15_000, 100);
}

async function stopNats(): Promise<void> {
  const s = server;
  server = undefined;
  if (!s || s.exitCode !== null) return;
  const gone = new Promise((r) => s.on('exit', r));
  s.kill('SIGTERM');
  await gone;
}

async function storedEvents(): Promise<FarmEvent[]> {
  const nc = await connect({ servers: url() });
  const js = jetstream(nc);
  const c = await js.consumers.get(names.ingressStream); // ordered consumer
  const out: FarmEvent[] = [];
  const info = await (await jetstreamManager(nc)).streams.info(names.ingressStream);
  if (info.state.messages > 0) {
    const it = await c.consume();
    for await (const m of it) {
      for (const e of decodeBatch(m.data)) out.push(e.event!);
      if (m.info.pending === 0) break;
    }
  }
  await nc.close();
  return out;
}

before(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'fb-nats-'));
  await startNats();
  const nc = await connect({ servers: url() });
  await provisionStreams(await jetstreamManager(nc), names);
  await nc.close();
  await stopNats();
});

after(async () => {
  await stopNats();
  rmSync(dir, { recursive: true, force: true });
});

test('sdk - events recorded while NATS is down all arrive, in order, once NATS is back', async () => {
  // NATS is down: the agent starts anyway and records into its outbox.
  const agent = new FarmbrainAgent({ agentId: 'outage-1', servers: url(), namespace: names.namespace, partitions: names.partitions, publishTimeoutMs: 1000 });
  const receipts: Promise<unknown>[] = [];
  const ids: string[] = [];
  const record = (i: number) => {
    const p = agent.recordDecision({ symbol: 'BTC', action: 'buy', confidence: 0.5, rationale: `#${i}` });
    receipts.push(p.then((r) => ids.push(r.eventId)));
  };
  for (let i = 0; i < 150; i++) record(i);
  assert.equal(agent.pending, 150);
  let settled = false;
  void Promise.all(receipts).then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(settled, false, 'nothing can be acknowledged while NATS is down');

  await startNats();
  await Promise.all(receipts);

  // Down again in the middle of the session, then back.
  await stopNats();
  for (let i = 150; i < 300; i++) record(i);
  await new Promise((r) => setTimeout(r, 500));
  await startNats();
  await Promise.all(receipts);
  await agent.close();

  const stored = await storedEvents();
  assert.equal(stored.length, 300, 'every event stored exactly once');
  assert.deepEqual(stored.map((e) => (e.data as { rationale: string }).rationale), Array.from({ length: 300 }, (_, i) => `#${i}`));
  for (let i = 1; i < stored.length; i++) assert.ok(stored[i]!.producerSeq > stored[i - 1]!.producerSeq, 'producer sequence increases');
  assert.deepEqual(new Set(ids).size, 300);
});

test('sdk - a full outbox refuses new events with OUTBOX_FULL and keeps the ones it holds', async () => {
  await stopNats();
  const agent = new FarmbrainAgent({ agentId: 'outage-2', servers: url(), namespace: names.namespace, partitions: names.partitions, outbox: { maxEvents: 20 } });
  const held = Array.from({ length: 20 }, (_, i) => agent.recordDecision({ symbol: 'ETH', action: 'hold', confidence: 0.1, rationale: `h${i}` }));
  await assert.rejects(agent.recordDecision({ symbol: 'ETH', action: 'hold', confidence: 0.1 }), (err: unknown) => err instanceof OutboxFullError && err.code === 'OUTBOX_FULL');
  await startNats();
  const r = await Promise.all(held);
  assert.equal(r.length, 20);
  await agent.close();
  const stored = (await storedEvents()).filter((e) => e.agentId === 'outage-2');
  assert.deepEqual(stored.map((e) => (e.data as { rationale: string }).rationale), Array.from({ length: 20 }, (_, i) => `h${i}`));
});

test('sdk - an invalid event is refused at once with the field that is wrong', async () => {
  const agent = new FarmbrainAgent({ agentId: 'outage-3', servers: url(), namespace: names.namespace, partitions: names.partitions });
  await assert.rejects(agent.recordDecision({ symbol: '', action: 'buy', confidence: 3 }), (err: unknown) => {
    assert.ok(err instanceof InvalidEventError);
    assert.deepEqual(err.issues.map((i) => i.field).sort(), ['data.confidence', 'data.symbol']);
    return true;
  });
  assert.throws(() => new FarmbrainAgent({ agentId: 'bad id!' }), /agentId/);
  assert.equal(agent.pending, 0);
  await agent.close();
});
