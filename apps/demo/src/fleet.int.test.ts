import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestStack, waitFor } from '@farmbrain/testing';
import { demoScopePolicy, startDemoFleet } from './index.js';

// The fleet for real: NATS, ingest, tiering and the gateway as processes, a namespace of its own.
const AGENTS = 3;
const stack = new TestStack({ env: { FB_SCOPE_POLICY: JSON.stringify(demoScopePolicy(AGENTS)) } });

before(async () => {
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  await stack.start('gateway');
});

after(async () => {
  await stack.destroy();
});

const run = async (log: string[]) => startDemoFleet({
  natsUrl: stack.natsUrl, namespace: stack.namespace, partitions: stack.names.partitions, gateway: stack.gatewayUrl,
  agents: AGENTS, tickMs: 40, seed: 42, log: (m) => log.push(m),
});

test('the fleet records, reads its memory back, stops flat; the next run is the next session and finds its shared memories', async () => {
  const log: string[] = [];
  const fleet = await run(log);
  assert.deepEqual(fleet.agents, ['momo-1', 'mrev-1', 'brk-1']);
  assert.equal(fleet.riskDesk, 'risk-desk');
  assert.equal(fleet.situation('BTC-USD').length, 4);
  await waitFor('decisions, trades and recalls', () => fleet.stats.closes >= 2 && fleet.stats.recalls >= 10 && fleet.stats.memories >= 3, 60_000);
  await fleet.stop();
  assert.equal(fleet.stats.errors, 0, log.filter((l) => /rejected|failed/.test(l)).join('\n'));
  assert.ok(log.some((l) => l.includes('session 1')));
  assert.ok(log.some((l) => l.startsWith('demo fleet stopped: ')));
  await stack.caughtUp();

  const agents = await stack.all<{ agentId: string; status: string }>('/v1/agents');
  assert.deepEqual(agents.map((a) => `${a.agentId} ${a.status}`).sort(), ['brk-1 stopped', 'momo-1 stopped', 'mrev-1 stopped', 'risk-desk stopped']);
  for (const id of fleet.agents) {
    assert.deepEqual(await stack.all(`/v1/agents/${id}/positions?status=open`), [], `${id} is flat`);
  }
  const decisions = await stack.all<{ recallIds: string[] }>('/v1/agents/momo-1/decisions');
  assert.ok(decisions.some((d) => d.recallIds.length > 0), 'decisions cite recalls');
  const shared = await stack.all<{ kind: string; scope: string }>('/v1/agents/momo-1/memories?kind=procedure');
  assert.ok(shared.some((m) => m.scope === 'team'), 'the lead\'s playbook, in the team scope');

  const log2: string[] = [];
  const again = await run(log2);
  await again.stop();
  assert.ok(log2.some((l) => l.includes("session 2 (earlier sessions' memories are recalled)")), log2.join('\n'));
  assert.ok(log2.some((l) => /momo-1 updates the momentum team playbook/.test(l)), log2.join('\n'));
  assert.equal(again.stats.errors, 0);
});
