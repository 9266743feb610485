import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FarmEvent, PayloadInput } from '@farmbrain/contracts';
import { DAY_MS, utcDay, type OptimizeReport, type TierMetrics } from '@farmbrain/lifecycle';
import { hotKeys } from '@farmbrain/store';
import { makeEvent, publishEvents, TestStack } from '@farmbrain/testing';

/**
 * `farmbrain optimize` (the real CLI) through the real gateway, over a stack
 * whose records are days old: the dry run shows what the run then does (the same
 * moves, records and bytes), the run applies the lifecycle policies, waits for
 * tiering, compacts a day of cold blocks made by two moves into one block of
 * exactly the bytes the dry run said, vacuums what it wrote and trims the hot
 * copies of idle agents; the reads are unchanged by all of it, and
 * GET /v1/lifecycle/metrics counts every record in its tier.
 */
const POLICY = {
  decision: { coldAfterDays: 2, archiveAfterDays: 10, deleteAfterDays: 30 },
  trade: { coldAfterDays: 2, archiveAfterDays: 10, deleteAfterDays: null },
};
const stack = new TestStack({
  archive: true,
  partitions: 2,
  env: { FB_LIFECYCLE: 'false', FB_MAX_PAST_SKEW_MS: String(400 * DAY_MS), FB_LIFECYCLE_POLICY: JSON.stringify(POLICY) },
});
before(async () => {
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering');
  await stack.start('gateway');
});
after(() => stack.destroy());

const D = utcDay(Date.now());
let seq = 0;
const ev = <T extends FarmEvent['type']>(agentId: string, type: T, at: number, data: PayloadInput<T>) => makeEvent(agentId, type, data, { producerSeq: ++seq, occurredAt: at });
const decision = (agentId: string, at: number, i: number) =>
  ev(agentId, 'decision_made', at, { symbol: ['BTC', 'ETH'][i % 2]!, action: 'buy', size: 1 + (i % 3), confidence: 0.5, rationale: `breakout ${i % 4}`, situation: [0.1, i % 5], memoryIds: [] });
const trade = (agentId: string, at: number, i: number) => ev(agentId, 'trade_executed', at, { orderId: `o-${i}`, symbol: 'BTC', side: 'buy', qty: 1, price: 100 + i, fees: 0.1, decisionId: '' });
const publish = async (events: FarmEvent[]) => {
  for (let i = 0; i < events.length; i += 200) await publishEvents(stack.js, stack.names, events.slice(i, i + 200));
  await stack.caughtUp();
};
const optimize = async (...args: string[]): Promise<OptimizeReport> => {
  const r = await stack.cli(['optimize', '--json', ...args]);
  assert.equal(r.code, 0, `farmbrain optimize ${args.join(' ')}: ${r.err}${r.out}`);
  return JSON.parse(r.out) as OptimizeReport;
};
const step = (r: OptimizeReport, name: string) => r.steps.find((s) => s.step === name)!;
/** A step as the dry run and the run both give it: what it does (the bytes VACUUM leaves are known after it only). */
const what = (s: OptimizeReport['steps'][number]) => ({ step: s.step, actions: s.actions, records: s.records, bytesBefore: s.bytesBefore, ...(s.step === 'vacuum' ? {} : { bytesAfter: s.bytesAfter }) });
const q = async <T = Record<string, unknown>>(sql: string, args: unknown[] = []) => (await stack.pool.query(sql, args)).rows as T[];

const AGENTS = ['opt-a', 'opt-b'];
const DAYS = [40, 12, 4, 1];

test('optimize - the dry run shows what the run does; the run moves, compacts, vacuums and trims, and reads are unchanged', async () => {
  let i = 0;
  for (const a of AGENTS) {
    await publish([
      ev(a, 'agent_registered', D - 50 * DAY_MS, { name: a, team: 'ops' }),
      ...DAYS.flatMap((k) => Array.from({ length: 6 }, () => decision(a, D - k * DAY_MS + 3600_000 + i * 1000, i++))),
      ...Array.from({ length: 4 }, () => trade(a, D - 4 * DAY_MS + 7200_000 + i * 1000, i++)),
    ]);
  }
  const listing = async (a: string) => (await stack.all<{ decisionId: string; tier: string }>(`/v1/agents/${a}/decisions`)).map((d) => d.decisionId);
  const before = { 'opt-a': await listing('opt-a'), 'opt-b': await listing('opt-b') };
  assert.equal(before['opt-a'].length, 24);
  assert.ok(await stack.redis.exists(hotKeys(stack.names.redisPrefix, 'opt-a')[0]), 'the agent has a hot copy');

  // ---- dry run: nothing changes ----
  const dry = await optimize('--dry-run');
  assert.equal(dry.dryRun, true);
  assert.deepEqual(dry.steps.map((s) => [s.step, s.status]), [
    ['retention', 'planned'], ['consolidation', dry.steps[1]!.status], ['compaction', 'nothing to do'], ['vacuum', 'planned'], ['redis', 'planned'],
  ]);
  // Per agent: decisions of day -40 deleted, of -12 to the archive, of -4 cold; trades of -4 cold.
  assert.equal(step(dry, 'retention').actions, 8);
  assert.deepEqual(dry.retention.byPolicy, [
    { policy: 'decision.archiveAfterDays', moves: 2, records: 12 }, { policy: 'decision.coldAfterDays', moves: 2, records: 12 },
    { policy: 'decision.deleteAfterDays', moves: 2, records: 12 }, { policy: 'trade.coldAfterDays', moves: 2, records: 8 },
  ]);
  assert.equal(dry.redis.agentCopies, 2, 'both agents are idle (their last event is days old)');
  assert.ok(dry.tiers.find((t) => t.tier === 'warm')!.saved > 0);
  assert.equal(dry.postgres.after, null);
  assert.equal(Number((await q<{ n: string }>('SELECT count(*) AS n FROM cold_blocks'))[0]!.n), 0, 'the dry run moved nothing');

  // ---- the run: what the dry run showed ----
  const run = await optimize();
  assert.equal(run.dryRun, false);
  assert.deepEqual(run.steps.map(what), dry.steps.map(what), 'the run did what the dry run showed');
  assert.deepEqual(run.steps.map((s) => s.status).filter((s) => s === 'planned'), []);
  assert.equal(step(run, 'retention').status, 'done');
  assert.deepEqual(step(run, 'retention').refused, []);
  assert.ok(run.consistencyToken?.startsWith('c1.'));
  const tiers = await q<{ agent_id: string; kind: string; day: string; tier: string; n: number }>(
    `SELECT agent_id, kind, to_char(day, 'YYYY-MM-DD') AS day, tier, sum(records)::int AS n FROM cold_blocks GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3`);
  const day = (k: number) => new Date(D - k * DAY_MS).toISOString().slice(0, 10);
  assert.deepEqual(tiers.map((t) => `${t.agent_id} ${t.kind} ${t.day} ${t.tier} ${t.n}`), AGENTS.flatMap((a) => [
    `${a} decision ${day(40)} deleted 6`, `${a} decision ${day(12)} archive 6`, `${a} decision ${day(4)} cold 6`, `${a} trade ${day(4)} cold 4`,
  ]));
  assert.equal(step(run, 'vacuum').status, 'done');
  assert.ok(run.postgres.tables.some((t) => t.table === 'decisions') && run.postgres.after !== null);
  assert.equal(await stack.redis.exists(...hotKeys(stack.names.redisPrefix, 'opt-a')), 0, 'the idle agent\'s hot copy is gone');
  const warm = run.tiers.find((t) => t.tier === 'warm')!;
  assert.ok(warm.after < warm.before, `warm bytes went down: ${JSON.stringify(warm)}`);
  // Reads: the same records (the deleted day aside), from Postgres now.
  const deleted = new Set((await q<{ id: string }>(`SELECT unnest(event_ids)::text AS id FROM cold_blocks WHERE tier = 'deleted'`)).map((r) => r.id));
  for (const a of AGENTS) assert.deepEqual(await listing(a), before[a as 'opt-a'].filter((id) => !deleted.has(id)));

  // ---- late rows for a cold day: a second block, which the next run merges ----
  await publish(Array.from({ length: 3 }, () => decision('opt-a', D - 4 * DAY_MS + 9000_000 + i * 1000, i++)));
  const dry2 = await optimize('--dry-run');
  assert.deepEqual(dry2.compaction.days, [{ agentId: 'opt-a', kind: 'decision', day: day(4), blocksBefore: 2, blocksAfter: 1, records: 9 }]);
  const run2 = await optimize();
  assert.deepEqual(run2.steps.map(what), dry2.steps.map(what));
  const blocks = await q<{ n: number; stored: number; moves: number }>(
    `SELECT records AS n, stored_bytes AS stored, cardinality(moves) AS moves FROM cold_blocks WHERE agent_id = 'opt-a' AND kind = 'decision' AND day = $1::date AND tier = 'cold'`, [day(4)]);
  assert.deepEqual(blocks.map((b) => b.n), [9], 'one block of the day');
  assert.equal(blocks[0]!.stored, step(dry2, 'compaction').bytesAfter, 'of the bytes the dry run said');
  assert.equal(blocks[0]!.moves, 3, 'with the history of both blocks and the compaction');
  const late = await listing('opt-a');
  assert.equal(late.length, before['opt-a'].length - 6 + 3);
  const explained = await stack.get<{ tier: string; history: { policy: string }[] }>(`/v1/lifecycle/explain/${late.at(-12)}`);
  assert.equal(explained.status, 200);

  // ---- metrics: every record in its tier ----
  const m = await stack.get<TierMetrics>('/v1/lifecycle/metrics');
  assert.equal(m.status, 200);
  const count = async (sql: string) => Number((await q<{ n: string }>(sql))[0]!.n);
  assert.equal(m.body.tiers.cold.records, await count(`SELECT coalesce(sum(records), 0) AS n FROM cold_blocks WHERE tier = 'cold'`));
  assert.equal(m.body.tiers.archive.records, 12);
  assert.equal(m.body.tiers.deleted.records, 12);
  assert.equal(m.body.tiers.deleted.bytes, 0);
  assert.ok(m.body.moves.some((x) => x.policy === 'optimize.compaction' && x.moves === 1 && x.records === 9));
  assert.deepEqual(m.body.agents.map((a) => a.agentId), AGENTS);

  // ---- again: nothing left to do ----
  const again = await optimize('--dry-run');
  assert.deepEqual(again.steps.filter((s) => s.step === 'retention' || s.step === 'compaction').map((s) => s.status), ['nothing to do', 'nothing to do']);
  // For people: each step in a line, then the bytes per tier.
  const human = await stack.cli(['optimize', '--dry-run']);
  assert.equal(human.code, 0, human.err);
  assert.match(human.out, /^optimize, dry run \(nothing changed\) as of /);
  for (const line of [/^retention +nothing to do: /m, /^compaction +nothing to do: /m, /^tier +before +after \(est\.\) +saved$/m, /^warm +\d/m, /^postgres \(disk\) /m]) assert.match(human.out, line);
});
