// farmbrain lifecycle benchmark, in fresh namespaces, the real services:
//
// 1. compression: the demo fleet's decisions (its decision generator, apps/demo, on a fake clock: one
//    tick = one minute, so each agent decides about once a minute) go through ingest and tiering, then
//    the lifecycle planner moves their days to cold; the cold blocks' bytes against the warm rows'
//    bytes (pg_column_size) and against the decisions table with its indexes (pg_total_relation_size).
// 2. reads by tier, in the same run: GET /v1/records/:id and the first page of an agent's decisions
//    through the real gateway, with the records warm, then cold (Postgres blocks), then in the archive
//    (objects in the archive store, a folder here); p50/p95, and the reads that decoded a block
//    (the gateway keeps 64 decoded blocks) apart.
// 3. storage growth per 1,000 decisions with the default policies on versus off: the same decisions
//    over a simulated period, published three simulated days at a time; "on" then applies the policies'
//    moves and VACUUM (ANALYZE)s what they wrote (as the scheduler and autovacuum would in real time),
//    every fifth time as an optimize run (retention + vacuum). Bytes: every table of the schema with
//    its indexes and TOAST, less the empty schema, plus the archive's block objects.
//
//   node bench/run.mjs lifecycle                        (npm run bench -- lifecycle)
//   node bench/run.mjs lifecycle --fleet-days 2 --growth-days 100 --growth-agents 8 --per-day 200
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { derivedEventId } from '../packages/contracts/dist/index.js';
import { DAY_MS, DEFAULT_LIFECYCLE_POLICY, parseLifecyclePolicy, planMoves, publishMoves, readInventory, runOptimize, utcDay, waitApplied } from '../packages/lifecycle/dist/index.js';
import { quoteIdent } from '../packages/platform/dist/index.js';
import { publishEvents, TestStack, uniqueNamespace } from '../packages/testing/dist/index.js';
import { Fleet, resolvePolicy } from '../apps/demo/dist/fleet.js';
import { FakeWorld } from '../apps/demo/dist/testing/fakeWorld.js';

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const stats = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return s.length === 0 ? { n: 0 } : { n: s.length, p50Ms: pct(s, 50), p95Ms: pct(s, 95), maxMs: s[s.length - 1] };
};
const secs = (t0) => (performance.now() - t0) / 1000;
const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;
const mib = (b) => `${(b / 1048576).toFixed(2)} MiB`;
const MINUTE_PER_TICK = 120;
/** Simulated days published between two runs of the policies in the growth part (a real scheduler runs every 5 minutes). */
const STEP_DAYS = 3; // a demo tick is 500 ms of its clock: x120 makes it a minute

/**
 * The demo fleet's events for `days` days of one-minute ticks: registrations and decisions, times
 * stretched from the fake clock's, ids made again as UUIDv7 of their new time (as the SDK makes them
 * when the event happens).
 */
async function fleetEvents({ agents, days, seed, startMs }) {
  const world = new FakeWorld({ start: startMs });
  const fleet = new Fleet({ agents, seed, session: 1, runTag: 'bench', policy: resolvePolicy(undefined, agents), log: () => {}, sdkFor: world.sdkFor, gateway: world.gateway, now: world.now });
  await fleet.start();
  await fleet.prepare();
  const ticks = Math.round((days * DAY_MS) / 60_000) - 2;
  for (let i = 0; i < ticks; i++) {
    world.advance(500);
    await fleet.tick();
  }
  await fleet.stop(1000, true);
  return world.events
    .filter((e) => e.type === 'agent_registered' || e.type === 'decision_made')
    .map((e) => {
      const at = startMs + (e.occurredAt - startMs) * MINUTE_PER_TICK;
      return { ...e, occurredAt: at, eventId: derivedEventId(at, `bench|${e.eventId}`) };
    });
}

async function publishAll(stack, events) {
  const byAgent = new Map();
  for (const e of events) byAgent.set(e.agentId, [...(byAgent.get(e.agentId) ?? []), e]);
  await Promise.all([...byAgent.values()].map(async (evs) => {
    for (let i = 0; i < evs.length; i += 250) await publishEvents(stack.js, stack.names, evs.slice(i, i + 250));
  }));
  await stack.caughtUp(600_000);
}

/** Plans and publishes the policy's moves as of `now` (all agents), and waits until tiering applied them. */
async function moveBy(stack, policy, now) {
  const plan = planMoves(await readInventory(stack.pool, { now, policy }), policy, now);
  const { consistencyToken } = await publishMoves(stack.js, stack.names, plan.moves);
  await waitApplied(stack.pool, { projection: 'tiering.v1', partitions: stack.names.partitions, token: consistencyToken, timeoutMs: 300_000 });
  await stack.caughtUp(300_000);
  return plan;
}

async function readLatency(stack, sample, agents, seenBlocks) {
  const byId = [];
  const decode = [];
  for (const { id, block } of sample) {
    const t0 = performance.now();
    const r = await fetch(`${stack.gatewayUrl}/v1/records/${id}`);
    await r.arrayBuffer();
    const ms = performance.now() - t0;
    if (r.status !== 200) throw new Error(`GET /v1/records/${id}: ${r.status}`);
    if (seenBlocks && !seenBlocks.has(block)) {
      seenBlocks.add(block);
      decode.push(ms);
    } else byId.push(ms);
  }
  const page = [];
  for (let i = 0; i < 20; i++) {
    for (const a of agents) {
      const t0 = performance.now();
      const r = await fetch(`${stack.gatewayUrl}/v1/agents/${a}/decisions?limit=50`);
      await r.arrayBuffer();
      page.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`GET decisions of ${a}: ${r.status}`);
    }
  }
  return { byId: stats(byId), firstReadOfBlock: stats(decode), page: stats(page) };
}

/** Parts 1 and 2: compression of the demo fleet's decisions, and reads by tier. */
async function compressionAndReads(o, log) {
  const stack = new TestStack({
    namespace: uniqueNamespace('lcbench'), archive: true, partitions: 4,
    env: { FB_LIFECYCLE: 'false', FB_MAX_PAST_SKEW_MS: String(400 * DAY_MS) },
  });
  try {
    await stack.connect();
    await stack.start('ingest');
    await stack.start('tiering');
    await stack.start('gateway');
    const start = utcDay(Date.now()) - 12 * DAY_MS;
    let t0 = performance.now();
    const events = await fleetEvents({ agents: o.fleetAgents, days: o.fleetDays, seed: 42, startMs: start });
    const decisions = events.filter((e) => e.type === 'decision_made');
    const agents = [...new Set(decisions.map((e) => e.agentId))].sort();
    log(`lifecycle bench 1-2: the demo fleet's decisions, ${o.fleetAgents} agents + risk desk, ${o.fleetDays} days of one-minute ticks: ${decisions.length.toLocaleString('en')} decisions (${secs(t0).toFixed(1)} s to generate)`);
    t0 = performance.now();
    await publishAll(stack, events);
    log(`  published and applied in ${secs(t0).toFixed(1)} s`);
    const q = async (sql) => (await stack.pool.query(sql)).rows[0];
    const warm = await q(`SELECT count(*)::int AS rows, sum(pg_column_size(d.*))::bigint AS row_bytes, pg_relation_size('decisions')::bigint AS heap,
                                 pg_total_relation_size('decisions')::bigint AS total, pg_indexes_size('decisions')::bigint AS indexes FROM decisions d`);
    const dayOf = new Map(decisions.map((e) => [e.eventId, `${e.agentId}|${utcDay(e.occurredAt)}`]));
    const pick = [...decisions].sort((a, b) => (a.eventId.slice(9) < b.eventId.slice(9) ? -1 : 1)).slice(0, o.reads).map((e) => ({ id: e.eventId, block: dayOf.get(e.eventId) }));
    const warmReads = await readLatency(stack, pick, agents, undefined);

    // To cold, by the default policy (decisions cold after 7 days: these are 11 and 12 days old).
    t0 = performance.now();
    const toCold = await moveBy(stack, DEFAULT_LIFECYCLE_POLICY, Date.now());
    const moveSecs = secs(t0);
    const cold = await q(`SELECT count(*)::int AS blocks, sum(records)::int AS records, sum(stored_bytes)::bigint AS stored, sum(raw_bytes)::bigint AS raw,
                                 sum(warm_bytes)::bigint AS warm FROM cold_blocks WHERE kind = 'decision' AND tier = 'cold'`);
    if (cold.records !== warm.rows) throw new Error(`${cold.records} records in cold blocks, ${warm.rows} were warm`);
    // A fresh gateway for each tier: its cache of decoded blocks (keyed by block id and sha256, which an archive move keeps) starts empty.
    await stack.kill('gateway');
    await stack.start('gateway');
    const coldReads = await readLatency(stack, pick, agents, new Set());

    // To the archive (a policy that archives after 9 days).
    const archivePolicy = parseLifecyclePolicy(JSON.stringify({ decision: { coldAfterDays: 7, archiveAfterDays: 9 } }), 'bench');
    await moveBy(stack, archivePolicy, Date.now());
    const archived = await q(`SELECT count(*)::int AS blocks, sum(records)::int AS records FROM cold_blocks WHERE kind = 'decision' AND tier = 'archive'`);
    if (archived.records !== warm.rows) throw new Error(`${archived.records} records in the archive, ${warm.rows} were warm`);
    await stack.kill('gateway');
    await stack.start('gateway');
    const archiveReads = await readLatency(stack, pick, agents, new Set());

    const stored = Number(cold.stored);
    const compression = {
      decisions: warm.rows, blocks: cold.blocks, rowsPerBlock: Math.round(warm.rows / cold.blocks), moves: toCold.moves.length, moveSeconds: moveSecs,
      warmRowBytes: Number(warm.row_bytes), tableHeapBytes: Number(warm.heap), tableIndexBytes: Number(warm.indexes), tableTotalBytes: Number(warm.total),
      coldBytes: stored, columnarRawBytes: Number(cold.raw),
      ratioVsWarmRows: Number(warm.row_bytes) / stored, ratioVsTableWithIndexes: Number(warm.total) / stored,
      bytesPerDecision: { warmRow: Number(warm.row_bytes) / warm.rows, tableWithIndexes: Number(warm.total) / warm.rows, cold: stored / warm.rows },
    };
    const reads = { warm: warmReads, cold: coldReads, archive: archiveReads, samples: pick.length,
      ratios: {
        coldVsWarmByIdP95: coldReads.byId.p95Ms / warmReads.byId.p95Ms, archiveVsWarmByIdP95: archiveReads.byId.p95Ms / warmReads.byId.p95Ms,
        archiveVsColdFirstReadP50: archiveReads.firstReadOfBlock.p50Ms / coldReads.firstReadOfBlock.p50Ms,
        coldVsWarmPageP95: coldReads.page.p95Ms / warmReads.page.p95Ms, archiveVsWarmPageP95: archiveReads.page.p95Ms / warmReads.page.p95Ms,
      } };
    return { compression, reads };
  } finally {
    await stack.destroy();
  }
}

/** Bytes of every table of the schema, with indexes and TOAST. */
async function schemaBytes(pool) {
  const r = await pool.query(`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS b FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')`);
  return Number(r.rows[0].b);
}
function dirBytes(dir) {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) total += e.isDirectory() ? dirBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return total;
}

/** Part 3: storage growth per 1,000 decisions, policies on and off. */
async function growth(o, log, templates) {
  const end = utcDay(Date.now());
  const first = end - o.growthDays * DAY_MS;
  const agents = Array.from({ length: o.growthAgents }, (_, i) => `grow-${i}`);
  let n = 0;
  /** The decisions of simulated day d, every agent, times spread over the day. */
  const dayEvents = (d) => agents.flatMap((agentId, a) => Array.from({ length: o.perDay }, (_, i) => {
    const t = templates[(n++) % templates.length];
    const at = first + d * DAY_MS + Math.floor(((i + a / agents.length) * DAY_MS) / o.perDay);
    return { ...t, agentId, producerSeq: d * o.perDay + i + 2, occurredAt: at, eventId: derivedEventId(at, `grow|${agentId}|${d}|${i}`), correlationId: '' };
  }));
  const register = agents.map((agentId) => ({ ...templates.register, agentId, producerSeq: 1, occurredAt: first - DAY_MS, eventId: derivedEventId(first - DAY_MS, `grow-reg|${agentId}`) }));
  const out = {};
  for (const mode of ['off', 'on']) {
    const stack = new TestStack({
      namespace: uniqueNamespace(`grow${mode}`), archive: true, partitions: 4,
      env: { FB_LIFECYCLE: 'false', FB_MAX_PAST_SKEW_MS: String((o.growthDays + 30) * DAY_MS) },
    });
    try {
      await stack.connect();
      await stack.start('ingest');
      await stack.start('tiering');
      const empty = await schemaBytes(stack.pool);
      const t0 = performance.now();
      n = 0;
      await publishAll(stack, register);
      let optimizeRuns = 0;
      if (mode === 'off') {
        for (let d = 0; d < o.growthDays; d += 10) await publishAll(stack, Array.from({ length: Math.min(10, o.growthDays - d) }, (_, k) => dayEvents(d + k)).flat());
      } else {
        const deps = { pool: stack.pool, js: stack.js, names: stack.names, projection: 'tiering.v1', policy: DEFAULT_LIFECYCLE_POLICY, archive: true, timeoutMs: 300_000 };
        const schema = quoteIdent(stack.names.pgSchema);
        for (let d = 0, step = 0; d < o.growthDays; d += STEP_DAYS, step++) {
          const days = Math.min(STEP_DAYS, o.growthDays - d);
          await publishAll(stack, Array.from({ length: days }, (_, k) => dayEvents(d + k)).flat());
          // The end of the step's last simulated day (+1 h): the policies' moves, applied, then VACUUM (ANALYZE) of the tables they
          // wrote, as autovacuum would do in the real time of a day; every fifth step (and the last) as an optimize run.
          const now = first + (d + days) * DAY_MS + 3600_000;
          if (step % 5 === 4 || d + days >= o.growthDays) {
            await runOptimize(deps, { now, steps: ['retention', 'vacuum'] });
            optimizeRuns++;
          } else {
            const plan = planMoves(await readInventory(stack.pool, { now, policy: DEFAULT_LIFECYCLE_POLICY }), DEFAULT_LIFECYCLE_POLICY, now);
            const { consistencyToken } = await publishMoves(stack.js, stack.names, plan.moves);
            await waitApplied(stack.pool, { projection: 'tiering.v1', partitions: stack.names.partitions, token: consistencyToken, timeoutMs: 300_000 });
            if (plan.moves.length > 0) for (const t of ['decisions', 'cold_blocks', 'lifecycle_moves']) await stack.pool.query(`VACUUM (ANALYZE) ${schema}.${quoteIdent(t)}`);
          }
        }
        await stack.caughtUp(300_000);
      }
      // Both end vacuumed (the tables of this schema only), so the bytes compare live data.
      const names = (await stack.pool.query(`SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'`)).rows;
      for (const { t } of names) await stack.pool.query(`VACUUM (ANALYZE) ${quoteIdent(stack.names.pgSchema)}.${quoteIdent(t)}`);
      const decisions = o.growthDays * o.perDay * agents.length;
      const pg = (await schemaBytes(stack.pool)) - empty;
      const objects = dirBytes(join(stack.archiveDir, stack.namespace, 'blocks'));
      const tiers = (await stack.pool.query(`SELECT 'warm' AS tier, count(*)::int AS records FROM decisions UNION ALL
                                             SELECT tier, sum(records)::int FROM cold_blocks WHERE kind = 'decision' GROUP BY tier`)).rows;
      const tables = (await stack.pool.query(`SELECT c.relname AS table, pg_total_relation_size(c.oid)::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                               WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 4`)).rows.map((r) => ({ table: r.table, bytes: Number(r.bytes) }));
      const cb = (await stack.pool.query(`SELECT coalesce(sum(stored_bytes) FILTER (WHERE tier = 'cold'), 0)::bigint AS payload, pg_total_relation_size('cold_blocks')::bigint AS total,
                                                 pg_indexes_size('cold_blocks')::bigint AS indexes, count(*)::int AS blocks FROM cold_blocks`)).rows[0];
      const coldBlocks = { blocks: cb.blocks, payloadBytes: Number(cb.payload), tableBytes: Number(cb.total), indexBytes: Number(cb.indexes) };
      out[mode] = { decisions, seconds: secs(t0), optimizeRuns, postgresBytes: pg, archiveObjectBytes: objects, totalBytes: pg + objects, coldBlocks,
        bytesPer1000: ((pg + objects) / decisions) * 1000, tiers: Object.fromEntries(tiers.map((r) => [r.tier, r.records])), largestTables: tables };
      log(`  growth, policies ${mode}: ${decisions.toLocaleString('en')} decisions over ${o.growthDays} days, ${mib(pg + objects)} (${secs(t0).toFixed(0)} s)`);
    } finally {
      await stack.destroy();
    }
  }
  const why = `${o.growthDays} simulated days: longer than decision.archiveAfterDays (${DEFAULT_LIFECYCLE_POLICY.decision.archiveAfterDays}) + 1, so every age of the default decision policy has acted (cold after 7 days, archive after 90); warm then holds about the last week`;
  return { days: o.growthDays, why, agents: agents.length, perAgentPerDay: o.perDay, ...out, onVsOff: out.on.bytesPer1000 / out.off.bytesPer1000 };
}

export function lifecycleArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(fleet-days|fleet-agents|reads|growth-days|growth-agents|per-day)$/.exec(argv[i]);
    if (m) o[m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = Number(argv[++i]);
  }
  return o;
}

/** Runs the three parts; returns the results with `rows` for the console table. */
export async function runLifecycleBench(opts = {}) {
  const o = {
    fleetAgents: 6, fleetDays: 2, reads: 400, growthDays: 100, growthAgents: 8, perDay: 200, log: (s) => console.log(s),
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined && !Number.isNaN(v))),
  };
  const log = o.log;
  const t0 = performance.now();
  const { compression, reads } = await compressionAndReads(o, log);
  // The decision payloads of the growth part: the demo fleet's again (one day, other agents).
  const templatesEvents = await fleetEvents({ agents: 6, days: 1, seed: 7, startMs: utcDay(Date.now()) - 200 * DAY_MS });
  const templates = templatesEvents.filter((e) => e.type === 'decision_made');
  templates.register = templatesEvents.find((e) => e.type === 'agent_registered');
  log(`lifecycle bench 3: growth per 1,000 decisions, ${o.growthAgents} agents x ${o.perDay} decisions a day (the demo fleet's) over ${o.growthDays} simulated days`);
  const grow = await growth(o, log, templates);
  log(`  period: ${grow.why}`);
  const r = reads;
  const f = (x) => (x === undefined ? '-' : `${x.toFixed(1)} ms`);
  const rows = [
    ['cold compression vs warm row bytes (demo decisions)', `${compression.ratioVsWarmRows.toFixed(1)}x`, `${compression.decisions.toLocaleString('en')} decisions, ${compression.blocks} blocks of ~${compression.rowsPerBlock}; ${compression.bytesPerDecision.warmRow.toFixed(0)} → ${compression.bytesPerDecision.cold.toFixed(1)} B a decision`],
    ['cold compression vs table + indexes', `${compression.ratioVsTableWithIndexes.toFixed(1)}x`, `${compression.bytesPerDecision.tableWithIndexes.toFixed(0)} B a decision warm (heap ${mib(compression.tableHeapBytes)}, indexes ${mib(compression.tableIndexBytes)})`],
    ['GET /v1/records/:id p95 warm / cold / archive', `${f(r.warm.byId.p95Ms)} / ${f(r.cold.byId.p95Ms)} / ${f(r.archive.byId.p95Ms)}`, `cold ${r.ratios.coldVsWarmByIdP95.toFixed(1)}x, archive ${r.ratios.archiveVsWarmByIdP95.toFixed(1)}x warm; ${r.samples} reads, block decoded (cached after)`],
    ['  first read of a block p50 cold / archive', `${f(r.cold.firstReadOfBlock.p50Ms)} / ${f(r.archive.firstReadOfBlock.p50Ms)}`, `max ${f(r.cold.firstReadOfBlock.maxMs)} / ${f(r.archive.firstReadOfBlock.maxMs)}; ${r.cold.firstReadOfBlock.n} blocks (decode ~${compression.rowsPerBlock} rows)`],
    ['decisions page (50) p95 warm / cold / archive', `${f(r.warm.page.p95Ms)} / ${f(r.cold.page.p95Ms)} / ${f(r.archive.page.p95Ms)}`, `cold ${r.ratios.coldVsWarmPageP95.toFixed(1)}x, archive ${r.ratios.archiveVsWarmPageP95.toFixed(1)}x warm`],
    ['storage per 1,000 decisions, policies off', kb(grow.off.bytesPer1000), `${mib(grow.off.totalBytes)} for ${grow.off.decisions.toLocaleString('en')} decisions over ${grow.days} days (all warm)`],
    ['storage per 1,000 decisions, policies on', kb(grow.on.bytesPer1000), `${(1 / grow.onVsOff).toFixed(1)}x less; Postgres ${mib(grow.on.postgresBytes)} + archive objects ${mib(grow.on.archiveObjectBytes)}; ${Object.entries(grow.on.tiers).map(([t, k]) => `${t} ${k.toLocaleString('en')}`).join(', ')}`],
    ['  of which cold_blocks: payloads / ids, seqs, rows / indexes', `${mib(grow.on.coldBlocks.payloadBytes)} / ${mib(grow.on.coldBlocks.tableBytes - grow.on.coldBlocks.indexBytes - grow.on.coldBlocks.payloadBytes)} / ${mib(grow.on.coldBlocks.indexBytes)}`, `${grow.on.coldBlocks.blocks} blocks of ${o.perDay} (an agent's day); the ids' GIN index finds a record in any tier`],
  ];
  return { seconds: secs(t0), compression, reads, growth: grow, rows };
}

// Alone: node bench/lifecycle.mjs [--growth-days 100 ...]
if (import.meta.url === `file://${process.argv[1]}`) {
  const { rows, ...res } = await runLifecycleBench(lifecycleArgs(process.argv.slice(2)));
  for (const r of rows) console.log(`${r[0].padEnd(50)}  ${r[1].padStart(28)}  ${r[2]}`);
  console.log(JSON.stringify(res, null, 2));
}
