import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, type EventOf, type FarmEvent, type PayloadInput } from '@farmbrain/contracts';
import { createLogger } from '@farmbrain/platform';
import { DAY_MS, DEFAULT_LIFECYCLE_POLICY, utcDay } from '@farmbrain/lifecycle';
import { makeEvent, publishEvents, readStream, TestStack } from '@farmbrain/testing';
import { startLifecycleScheduler, type LifecycleScheduler } from './scheduler.js';

/**
 * The scheduler against a running ingest and tiering: records published with
 * old occurredAt times, one run with a controlled clock, and the records_moved
 * events that reach the canonical stream, with their reasons. Running again
 * publishes no new event: the same ids (deduplicated by the log) or nothing to do.
 */

const NOW = Date.now();
const D = utcDay(NOW);
const iso = (ms: number) => new Date(ms).toISOString();
let stack: TestStack;
let scheduler: LifecycleScheduler;
let seq = 0;

const ev = <T extends FarmEvent['type']>(agentId: string, type: T, at: number, data: PayloadInput<T>) => makeEvent(agentId, type, data, { producerSeq: ++seq, occurredAt: at });
const decision = (agentId: string, at: number) => ev(agentId, 'decision_made', at, { symbol: 'BTC', action: 'buy', size: 1, confidence: 0.5, rationale: 'r', situation: [], memoryIds: [] });
const trade = (agentId: string, at: number) => ev(agentId, 'trade_executed', at, { orderId: `o${seq}`, symbol: 'BTC', side: 'buy', qty: 1, price: 100, fees: 0, decisionId: '' });
const recall = (agentId: string, at: number) => ev(agentId, 'memory_recalled', at, { queryText: 'q', k: 3, hits: [] });
const checkpoint = (agentId: string, at: number) => ev(agentId, 'checkpoint_saved', at, { label: `cp${seq}`, state: new Uint8Array([1, 2, 3]) });

/** records_moved events on the canonical stream, by id. */
async function movesOnLog(): Promise<Map<string, EventOf<'records_moved'>>> {
  const out = new Map<string, EventOf<'records_moved'>>();
  for (const m of await readStream(stack.js, stack.jsm, stack.names.eventsStream)) {
    for (const { event } of decodeBatch(m.data)) if (event?.type === 'records_moved') out.set(event.eventId, event as EventOf<'records_moved'>);
  }
  return out;
}

before(async () => {
  stack = await new TestStack({ partitions: 2, env: { FB_MAX_PAST_SKEW_MS: String(500 * DAY_MS) } }).connect();
  await stack.start('ingest');
  await stack.start('tiering');
  scheduler = startLifecycleScheduler({
    pool: stack.pool, js: stack.js, names: stack.names, policy: DEFAULT_LIFECYCLE_POLICY, intervalMs: 3_600_000, firstRunDelayMs: 3_600_000,
    owned: () => [0, 1], now: () => NOW, log: createLogger('lifecycle-test', 'silent'),
  });
});
after(async () => {
  await scheduler?.stop();
  await stack?.destroy();
});

test('lifecycle - the scheduler publishes the moves the policies call for, with their reasons, once', async (t) => {
  const a = 'lc-a';
  const b = 'lc-b';
  const cps = [3, 2, 1].flatMap((k) => Array.from({ length: k === 1 ? 7 : 8 }, (_, i) => checkpoint(a, D - k * DAY_MS + (i + 1) * 60_000)));
  await publishEvents(stack.js, stack.names, [
    decision(a, D - 100 * DAY_MS + 3600_000), decision(a, D - 100 * DAY_MS + 7200_000),
    decision(a, D - 10 * DAY_MS + 3600_000), decision(a, D - 10 * DAY_MS + 3601_000), decision(a, D - 10 * DAY_MS + 3602_000),
    decision(a, D - DAY_MS + 60_000),
    trade(a, D - 10 * DAY_MS + 5000),
    recall(a, D - 400 * DAY_MS + 1000), recall(a, D - 5 * DAY_MS + 1000),
  ]);
  await publishEvents(stack.js, stack.names, cps);
  await publishEvents(stack.js, stack.names, [decision(b, D - 30 * DAY_MS + 1000)]);
  await stack.caughtUp();

  const first = await scheduler.runOnce(NOW);
  assert.equal(first.agents, 2);
  assert.ok(first.consistencyToken?.startsWith('c1.'));
  await stack.caughtUp();
  const onLog = await movesOnLog();
  const canonicalMessages = (await readStream(stack.js, stack.jsm, stack.names.eventsStream)).length;
  const seen = [...onLog.values()].map((e) => `${e.agentId} ${e.data.kind} ${e.data.dayMs ? iso(e.data.dayMs).slice(0, 10) : `ids:${e.data.recordIds.length}`} ${e.data.fromTier}>${e.data.toTier} ${e.data.policy}`).sort();
  const day = (k: number) => iso(D - k * DAY_MS).slice(0, 10);
  assert.deepEqual(seen, [
    `lc-a checkpoint ids:3 warm>archive checkpoint.keepLast`,
    `lc-a decision ${day(10)} warm>cold decision.coldAfterDays`,
    `lc-a decision ${day(100)} warm>archive decision.archiveAfterDays`,
    `lc-a recall ${day(400)} warm>deleted recall.deleteAfterDays`,
    `lc-a recall ${day(5)} warm>cold recall.coldAfterDays`,
    `lc-a trade ${day(10)} warm>cold trade.coldAfterDays`,
    `lc-b decision ${day(30)} warm>cold decision.coldAfterDays`,
  ].sort());
  // The ids planned are the ids on the log, and the reasons carry the values that decided.
  assert.deepEqual([...onLog.keys()].sort(), first.plan!.moves.map((m) => m.eventId).sort());
  const byPolicy = (p: string, agent = a) => [...onLog.values()].find((e) => e.data.policy === p && e.agentId === agent)!;
  assert.equal(byPolicy('decision.coldAfterDays').data.reason, `decisions of ${day(10)} are older than 7 days (decision.coldAfterDays = 7) as of ${iso(NOW)}`);
  assert.equal(byPolicy('recall.deleteAfterDays').data.reason, `recalls of ${day(400)} are older than 365 days (recall.deleteAfterDays = 365), no legal hold as of ${iso(NOW)}`);
  const archived = byPolicy('checkpoint.keepLast');
  assert.deepEqual(archived.data.recordIds, cps.slice(0, 3).map((e) => e.eventId).sort(), 'the 3 oldest of the first day: not among the newest 20 nor their day\'s newest');
  assert.match(archived.data.reason, new RegExp(`^not among the newest 20 checkpoints of the agent nor the newest of its UTC day ${day(3)} \\(checkpoint.keepLast = 20, checkpoint.keepDaily = true\\)`));
  assert.equal(archived.occurredAt, NOW);
  // None was refused by ingest.
  assert.equal((await stack.jsm.streams.info(stack.names.deadLetterStream)).state.messages, 0);

  // Again, same clock: tiering applied the moves (nothing to do), or this scheduler knows it published them.
  const second = await scheduler.runOnce(NOW);
  assert.equal(second.published, 0, `second run: ${second.plan!.moves.length} moves, ${second.suppressed} already published`);
  // Another scheduler (a restart, the partition's next owner) publishes what is still planned under the same ids: the log keeps one.
  const other = startLifecycleScheduler({
    pool: stack.pool, js: stack.js, names: stack.names, policy: DEFAULT_LIFECYCLE_POLICY, intervalMs: 3_600_000, firstRunDelayMs: 3_600_000,
    owned: () => [0, 1], now: () => NOW, log: createLogger('lifecycle-test', 'silent'),
  });
  const third = await other.runOnce(NOW);
  await other.stop();
  await stack.caughtUp();
  assert.equal(third.duplicates, third.published, `another scheduler: ${third.published} published, ${third.duplicates} duplicates`);
  for (const m of third.plan!.moves) assert.ok(onLog.has(m.eventId));
  const again = await movesOnLog();
  assert.deepEqual([...again.keys()].sort(), [...onLog.keys()].sort(), 'no new records_moved on the log');
  assert.equal((await readStream(stack.js, stack.jsm, stack.names.eventsStream)).length, canonicalMessages, 'no message added to the canonical stream');

  // When tiering applies the moves (cold_blocks), the tiers are the planned ones (moves into the archive need tiering's
  // archive store; without one they are dead-lettered, and those days stay warm).
  const blocks = await stack.pool.query<{ kind: string; day: string; tier: string }>(`SELECT kind, to_char(day, 'YYYY-MM-DD') AS day, tier FROM cold_blocks WHERE agent_id = $1 AND kind <> 'checkpoint'`, [a])
    .catch(() => ({ rows: [] as { kind: string; day: string; tier: string }[] }));
  const planned = new Map([[`decision ${day(10)}`, 'cold'], [`decision ${day(100)}`, 'archive'], [`recall ${day(400)}`, 'deleted'], [`recall ${day(5)}`, 'cold'], [`trade ${day(10)}`, 'cold']]);
  t.diagnostic(`tiering applied the moves into ${blocks.rows.length} block(s)`);
  for (const r of blocks.rows) assert.equal(r.tier, planned.get(`${r.kind} ${r.day}`), `${r.kind} ${r.day}`);
  if (blocks.rows.length > 0) {
    const have = new Set(blocks.rows.map((r) => `${r.kind} ${r.day}`));
    for (const [k, tier] of planned) if (tier !== 'archive') assert.ok(have.has(k), `${k} was moved to ${tier}`);
  }
});
