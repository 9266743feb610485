import type { Redis } from 'ioredis';
import type { JetStreamClient } from '@nats-io/jetstream';
import { mergeConsistencyTokens, type Names } from '@farmbrain/contracts';
import { quoteIdent, type Logger, type Pool } from '@farmbrain/platform';
import { WARM_TABLE } from '@farmbrain/store';
import { refusedMoves, waitApplied } from './applied.js';
import { compactionDayKey, DEFAULT_BLOCK_ROWS, measureCompaction, planCompaction, readColdBlocks, type CompactionPlan } from './compaction.js';
import { planMoves, type Plan, type PlannedMove } from './planner.js';
import type { DayKind, LifecyclePolicy } from './policy.js';
import { publishMoves } from './publish.js';
import { readInventory } from './readInventory.js';
import { applyRedisTrim, hotBytes, planRedisTrim, waitHotThrough, type RedisTrimPlan, type TrimReason } from './redisTrim.js';
import { readTierMetrics } from './tierMetrics.js';

/** The steps of an optimize run, in the order they run. */
export const OPTIMIZE_STEPS = ['retention', 'consolidation', 'compaction', 'vacuum', 'redis'] as const;
export type OptimizeStepName = (typeof OPTIMIZE_STEPS)[number];
export const OPTIMIZE_TIERS = ['hot', 'warm', 'cold', 'archive'] as const;
export type OptimizeTier = (typeof OPTIMIZE_TIERS)[number];

/**
 * The memory consolidation of a run (plans the merging of near-duplicate
 * memories into canonical ones, as memories_consolidated events). Dry run: what
 * it would merge; run: it publishes them and returns a token covering them.
 */
export type ConsolidationHook = (o: { dryRun: boolean; now: number; agents?: readonly string[] }) => Promise<{
  /** Canonical memories made. */
  groups: number;
  /** Memories they replace in recall. */
  merged: number;
  consistencyToken?: string | undefined;
  note?: string;
}>;

export interface OptimizeDeps {
  /** The live projection version's pool (its schema). */
  pool: Pool;
  js: JetStreamClient;
  names: Names;
  /** That version's name (tiering.v1): its checkpoints say what tiering applied. */
  projection: string;
  policy: LifecyclePolicy;
  /** Whether tiering has an archive store (nothing is planned into the archive without). */
  archive: boolean;
  /** The hot tier (Redis and the version's key prefix): the trim step, and hot bytes. */
  hot?: { redis: Redis; prefix: string };
  /** Memory consolidation; without it the step says it is not available. */
  consolidation?: ConsolidationHook;
  /** Longest wait for tiering to apply a step's moves (default 120 s). */
  timeoutMs?: number;
  blockRows?: number;
  log?: Logger;
}

export interface OptimizeOptions {
  /** The clock (default Date.now()). */
  now?: number;
  /** These agents only (default every agent). */
  agents?: readonly string[];
  /** These steps only (default all). */
  steps?: readonly OptimizeStepName[];
}

/** Postgres tables of the version's schema: bytes with indexes and TOAST, and dead rows (from the statistics). */
export interface TableFigure {
  table: string;
  bytes: number;
  deadRows: number;
}

/** What a run will do: computed once, shown by the dry run, carried out by the run. */
export interface OptimizePlan {
  now: number;
  steps: ReadonlySet<OptimizeStepName>;
  agents: readonly string[] | undefined;
  retention: Plan;
  notes: string[];
  /** The consolidation hook's dry run (undefined: no hook, or the step left out). */
  consolidation: Awaited<ReturnType<ConsolidationHook>> | undefined;
  compaction: CompactionPlan;
  /** Tables the steps write: VACUUM (ANALYZE)d after them. */
  vacuum: string[];
  redis: RedisTrimPlan | undefined;
  before: { tiers: Record<OptimizeTier, number>; tables: TableFigure[] };
}

export type StepStatus = 'planned' | 'done' | 'nothing to do' | 'skipped' | 'not available';

export interface OptimizeStepReport {
  step: OptimizeStepName;
  status: StepStatus;
  /** One sentence: what it does or did. */
  summary: string;
  /** records_moved / memories_consolidated events published (or to publish), keys removed, tables vacuumed. */
  actions: number;
  records: number;
  bytesBefore: number;
  bytesAfter: number;
  /** Moves tiering refused (dead-lettered): not applied. */
  refused: { moveId: string; code: string; reason: string }[];
}

export interface OptimizeReport {
  dryRun: boolean;
  /** The clock the plan was made with. */
  at: string;
  tookMs: number;
  steps: OptimizeStepReport[];
  /** Bytes per tier: hot (Redis: agent copies and recalled-memory cache), warm (row bytes), cold (block payloads in Postgres), archive (objects). Dry run: `after` estimated. */
  tiers: { tier: OptimizeTier; before: number; after: number; saved: number }[];
  /** The schema's Postgres bytes (tables, indexes, TOAST). after/saved: null in a dry run (VACUUM's gain is not known before). */
  postgres: { before: number; after: number | null; saved: number | null; tables: { table: string; bytesBefore: number; bytesAfter: number | null; deadRowsBefore: number }[] };
  retention: {
    byPolicy: { policy: string; moves: number; records: number }[];
    heldBack: { agentId: string; kind: string; day: string | null; records: number; policy: string; reason: string }[];
    notes: string[];
  };
  compaction: { days: { agentId: string; kind: string; day: string; blocksBefore: number; blocksAfter: number; records: number }[] };
  redis: { idleMinutes: number; agentCopies: number; memdocs: { why: TrimReason; keys: number; bytes: number }[] };
  /** Covers every event the run published (null: none, or a dry run). */
  consistencyToken: string | null;
}

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const sum = <T>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((n, x) => n + f(x), 0);

async function tables(pool: Pool): Promise<TableFigure[]> {
  const r = await pool.query<{ table: string; bytes: string; dead: string }>(
    `SELECT c.relname AS table, pg_total_relation_size(c.oid)::bigint AS bytes, coalesce(s.n_dead_tup, 0)::bigint AS dead
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY c.relname`,
  );
  return r.rows.map((x) => ({ table: x.table, bytes: Number(x.bytes), deadRows: Number(x.dead) }));
}

async function tierBytes(d: OptimizeDeps): Promise<Record<OptimizeTier, number>> {
  const m = await readTierMetrics(d.pool);
  return { hot: d.hot ? await hotBytes(d.pool, d.hot.redis, d.hot.prefix) : 0, warm: m.tiers.warm.bytes, cold: m.tiers.cold.bytes, archive: m.tiers.archive.bytes };
}

/** Tables a set of moves writes. */
function touchedBy(moves: readonly PlannedMove[]): string[] {
  const out = new Set<string>();
  for (const m of moves) {
    out.add('cold_blocks').add('lifecycle_moves').add('projection_events');
    if (m.data.fromTier === 'warm' && m.data.kind in WARM_TABLE) out.add(WARM_TABLE[m.data.kind as keyof typeof WARM_TABLE].table);
    if (m.data.fromTier === 'archive' || m.data.toTier === 'deleted') out.add('archive_removals');
  }
  return [...out];
}

/**
 * Plans an optimize run as of `now` (default the clock): the one function both
 * the dry run and the run use, so the dry run shows exactly what the run does.
 *
 * 1. retention: the lifecycle planner over every agent (readInventory → planMoves);
 * 2. consolidation: the hook's dry run;
 * 3. compaction: each agent, kind and day whose cold blocks (after step 1) would
 *    be fewer once merged, measured exactly (the same codec on the same rows);
 * 4. vacuum: the tables steps 1 to 3 write;
 * 5. redis: hot copies of agents idle past memory.hotIdleMinutes, and cache
 *    entries no recall can use.
 */
export async function planOptimize(d: OptimizeDeps, o: OptimizeOptions = {}): Promise<OptimizePlan> {
  const now = o.now ?? Date.now();
  const steps = new Set(o.steps ?? OPTIMIZE_STEPS);
  const blockRows = d.blockRows ?? DEFAULT_BLOCK_ROWS;
  const before = { tiers: await tierBytes(d), tables: await tables(d.pool) };
  const notes: string[] = [];

  let retention: Plan = { now, moves: [], heldBack: [], bytes: { warm: zero(), cold: zero(), archive: zero() }, byPolicy: {} };
  if (steps.has('retention')) {
    const inv = await readInventory(d.pool, { ...(o.agents ? { agents: o.agents } : {}), now, policy: d.policy });
    notes.push(...inv.notes);
    retention = planMoves(inv, d.policy, now, { archive: d.archive });
  }

  const consolidation = steps.has('consolidation') && d.consolidation ? await d.consolidation({ dryRun: true, now, ...(o.agents ? { agents: o.agents } : {}) }) : undefined;

  let compaction: CompactionPlan = { moves: [], days: [], bytesBefore: 0, bytesAfter: 0 };
  if (steps.has('compaction')) {
    const joining = retention.moves.filter((m) => m.data.fromTier === 'warm' && m.data.toTier === 'cold' && m.data.dayMs > 0)
      .map((m) => ({ agentId: m.agentId, kind: m.data.kind, dayMs: m.data.dayMs }));
    const blocks = await readColdBlocks(d.pool, { ...(o.agents ? { agents: o.agents } : {}), joining });
    const first = planCompaction(blocks, retention.moves, now, { blockRows });
    const joins = new Set(joining.map((j) => compactionDayKey(j.agentId, j.kind, j.dayMs)));
    const measured = await measureCompaction(d.pool, first.days.map((x) => ({ ...x, withWarm: joins.has(compactionDayKey(x.agentId, x.kind, x.dayMs)) })), { blockRows });
    compaction = planCompaction(blocks, retention.moves, now, { blockRows, measured });
  }

  const vacuum = steps.has('vacuum')
    ? [...new Set([...touchedBy([...retention.moves, ...compaction.moves]), ...(consolidation && consolidation.groups > 0 ? ['memories', 'memory_versions', 'projection_events'] : [])])]
      .filter((t) => before.tables.some((x) => x.table === t)).sort()
    : [];

  const redis = steps.has('redis') && d.hot
    ? await planRedisTrim(d.pool, d.hot.redis, d.hot.prefix, { now, idleMinutes: d.policy.memory.hotIdleMinutes, ...(o.agents ? { agents: o.agents } : {}) })
    : undefined;

  return { now, steps, agents: o.agents, retention, notes, consolidation, compaction, vacuum, redis, before };
}

const zero = () => ({ before: 0, after: 0, saved: 0 });

/** The dry run: the plan, as the report the run would give (tier bytes after: the plan's estimates). */
export async function previewOptimize(d: OptimizeDeps, o: OptimizeOptions = {}): Promise<OptimizeReport> {
  const t0 = performance.now();
  const plan = await planOptimize(d, o);
  return report(plan, true, t0, {}, undefined, undefined, undefined, undefined);
}

/**
 * The run: plans (planOptimize, as the dry run), then carries the plan out, each
 * step after the one before is applied: publishes the retention moves and waits
 * for tiering to apply them; consolidates; publishes the compaction moves and
 * waits; VACUUM (ANALYZE)s the tables written; trims Redis. Then measures again.
 * Every move is an event on the log (deterministic ids: a run repeated after a
 * failure publishes the same events, which the log and tiering keep once).
 */
export async function runOptimize(d: OptimizeDeps, o: OptimizeOptions = {}): Promise<OptimizeReport> {
  const t0 = performance.now();
  const plan = await planOptimize(d, o);
  const timeoutMs = d.timeoutMs ?? 120_000;
  const wait = (token: string | undefined) => waitApplied(d.pool, { projection: d.projection, partitions: d.names.partitions, token, timeoutMs });
  const refused: Partial<Record<OptimizeStepName, OptimizeStepReport['refused']>> = {};
  let token: string | undefined;
  const log = d.log;

  if (plan.retention.moves.length > 0) {
    const r = await publishMoves(d.js, d.names, plan.retention.moves);
    await wait(r.consistencyToken);
    token = mergeConsistencyTokens(token, r.consistencyToken, d.names.partitions);
    refused.retention = await refusedMoves(d.pool, d.projection, plan.retention.moves.map((m) => m.eventId));
    log?.info({ moves: plan.retention.moves.length, refused: refused.retention.length }, 'optimize: retention moves applied');
  }
  let consolidated: Awaited<ReturnType<ConsolidationHook>> | undefined;
  if (plan.steps.has('consolidation') && d.consolidation && (plan.consolidation?.groups ?? 0) > 0) {
    consolidated = await d.consolidation({ dryRun: false, now: plan.now, ...(plan.agents ? { agents: plan.agents } : {}) });
    await wait(consolidated.consistencyToken);
    token = mergeConsistencyTokens(token, consolidated.consistencyToken, d.names.partitions);
  }
  if (plan.compaction.moves.length > 0) {
    const r = await publishMoves(d.js, d.names, plan.compaction.moves);
    await wait(r.consistencyToken);
    token = mergeConsistencyTokens(token, r.consistencyToken, d.names.partitions);
    refused.compaction = await refusedMoves(d.pool, d.projection, plan.compaction.moves.map((m) => m.eventId));
  }
  // VACUUM cannot run in a transaction: each is its own statement on the pool.
  const schema = (await d.pool.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
  for (const t of plan.vacuum) await d.pool.query(`VACUUM (ANALYZE) ${quoteIdent(schema)}.${quoteIdent(t)}`);
  let trimmed: number | undefined;
  if (plan.redis && d.hot) {
    // The hot copies the moves rebuilt are written after their commit: trim after them, not before.
    if (token) await waitHotThrough(d.pool, d.hot.redis, d.hot.prefix, d.projection);
    trimmed = await applyRedisTrim(d.hot.redis, plan.redis);
  }
  const after = { tiers: await tierBytes(d), tables: await tables(d.pool) };
  const out = report(plan, false, t0, refused, after, token, consolidated, trimmed);
  log?.info({ steps: out.steps.map((s) => `${s.step}: ${s.status}`), tiers: out.tiers, postgres: { before: out.postgres.before, after: out.postgres.after } }, 'optimize done');
  return out;
}

function report(
  plan: OptimizePlan, dryRun: boolean, t0: number, refused: Partial<Record<OptimizeStepName, OptimizeStepReport['refused']>>,
  after: { tiers: Record<OptimizeTier, number>; tables: TableFigure[] } | undefined, token: string | undefined,
  consolidated: Awaited<ReturnType<ConsolidationHook>> | undefined, trimmed: number | undefined,
): OptimizeReport {
  const did = (n: number): StepStatus => (n > 0 ? (dryRun ? 'planned' : 'done') : 'nothing to do');
  const verb = (planned: string, done: string) => (dryRun ? planned : done);
  const steps: OptimizeStepReport[] = [];
  const skipped = (step: OptimizeStepName, why = 'left out of this run') =>
    steps.push({ step, status: 'skipped', summary: why, actions: 0, records: 0, bytesBefore: 0, bytesAfter: 0, refused: [] });

  const r = plan.retention;
  if (!plan.steps.has('retention')) skipped('retention');
  else {
    const recs = sum(r.moves, (m) => m.records);
    const b0 = sum(r.moves, (m) => m.bytesBefore);
    const b1 = sum(r.moves, (m) => m.bytesAfter);
    const deleted = sum(r.moves.filter((m) => m.data.toTier === 'deleted'), (m) => m.records);
    steps.push({
      step: 'retention', status: did(r.moves.length),
      summary: r.moves.length === 0
        ? `no record is due to move by the lifecycle policies${r.heldBack.length ? ` (${r.heldBack.length} held back by legal holds)` : ''}`
        : `${verb('moves', 'moved')} ${recs} records in ${r.moves.length} moves by the lifecycle policies (${deleted} deleted by retention)${r.heldBack.length ? `; ${r.heldBack.length} held back by legal holds` : ''}`,
      actions: r.moves.length, records: recs, bytesBefore: b0, bytesAfter: b1, refused: refused.retention ?? [],
    });
  }

  const c = consolidated ?? plan.consolidation;
  if (!plan.steps.has('consolidation')) skipped('consolidation');
  else if (!c) {
    steps.push({ step: 'consolidation', status: 'not available', summary: 'no consolidation run is wired in this deployment (OptimizeDeps.consolidation)', actions: 0, records: 0, bytesBefore: 0, bytesAfter: 0, refused: [] });
  } else {
    steps.push({
      step: 'consolidation', status: did(c.groups),
      summary: c.groups > 0 ? `${verb('merges', 'merged')} ${c.merged} near-duplicate memories into ${c.groups} canonical ones${c.note ? `; ${c.note}` : ''}` : `no near-duplicate memories${c.note ? `; ${c.note}` : ''}`,
      actions: c.groups, records: c.merged, bytesBefore: 0, bytesAfter: 0, refused: [],
    });
  }

  const k = plan.compaction;
  if (!plan.steps.has('compaction')) skipped('compaction');
  else {
    steps.push({
      step: 'compaction', status: did(k.moves.length),
      summary: k.moves.length === 0
        ? 'no day has cold blocks that merge into fewer'
        : `${verb('merges', 'merged')} ${sum(k.days, (x) => x.blocksBefore)} cold blocks of ${k.days.length} agent-days into ${sum(k.days, (x) => x.blocksAfter)}`,
      actions: k.moves.length, records: sum(k.days, (x) => x.records), bytesBefore: k.bytesBefore, bytesAfter: k.bytesAfter, refused: refused.compaction ?? [],
    });
  }

  const bytesOf = (figs: TableFigure[], t: string) => figs.find((x) => x.table === t)?.bytes ?? 0;
  if (!plan.steps.has('vacuum')) skipped('vacuum');
  else {
    const b0 = sum(plan.vacuum, (t) => bytesOf(plan.before.tables, t));
    const b1 = after ? sum(plan.vacuum, (t) => bytesOf(after.tables, t)) : b0;
    steps.push({
      step: 'vacuum', status: did(plan.vacuum.length),
      summary: plan.vacuum.length > 0 ? `VACUUM (ANALYZE) ${plan.vacuum.join(', ')}: the tables the steps write` : 'no table written: nothing to vacuum',
      actions: plan.vacuum.length, records: 0, bytesBefore: b0, bytesAfter: b1, refused: [],
    });
  }

  const rt = plan.redis;
  if (!plan.steps.has('redis')) skipped('redis');
  else if (!rt) steps.push({ step: 'redis', status: 'not available', summary: 'no Redis hot tier given', actions: 0, records: 0, bytesBefore: 0, bytesAfter: 0, refused: [] });
  else {
    const n = rt.agents.length + rt.memdocs.length;
    steps.push({
      step: 'redis', status: did(n),
      summary: n === 0
        ? `no hot copy of an agent idle for more than ${rt.idleMinutes} minutes, no unusable cache entry`
        : `${verb('removes', 'removed')} the hot copies of ${rt.agents.length} agents idle for more than ${rt.idleMinutes} minutes (memory.hotIdleMinutes; rebuilt from Postgres at their next event) and ${rt.memdocs.length} recalled-memory cache entries no recall can use${trimmed !== undefined ? ` (${trimmed} keys were there)` : ''}`,
      actions: sum(rt.agents, (a) => a.present) + rt.memdocs.length, records: 0, bytesBefore: rt.bytes, bytesAfter: 0, refused: [],
    });
  }

  // Tier bytes: measured before and after a run; a dry run's after is the plan's estimate.
  const est: Record<OptimizeTier, number> = { ...plan.before.tiers };
  for (const t of ['warm', 'cold', 'archive'] as const) est[t] -= r.bytes[t].saved;
  est.cold -= k.bytesBefore - k.bytesAfter;
  est.hot -= rt?.bytes ?? 0;
  const afterTiers = after?.tiers ?? est;
  const tiers = OPTIMIZE_TIERS.map((tier) => ({ tier, before: plan.before.tiers[tier], after: afterTiers[tier], saved: plan.before.tiers[tier] - afterTiers[tier] }));
  const pgBefore = sum(plan.before.tables, (t) => t.bytes);
  const pgAfter = after ? sum(after.tables, (t) => t.bytes) : null;
  const touched = new Set([...plan.vacuum, ...touchedBy([...r.moves, ...k.moves])]);

  const memdocs = new Map<TrimReason, { keys: number; bytes: number }>();
  for (const m of rt?.memdocs ?? []) {
    const x = memdocs.get(m.why) ?? { keys: 0, bytes: 0 };
    x.keys++;
    x.bytes += m.bytes;
    memdocs.set(m.why, x);
  }
  return {
    dryRun,
    at: new Date(plan.now).toISOString(),
    tookMs: Math.round(performance.now() - t0),
    steps,
    tiers,
    postgres: {
      before: pgBefore, after: pgAfter, saved: pgAfter === null ? null : pgBefore - pgAfter,
      tables: plan.before.tables.filter((t) => touched.has(t.table)).map((t) => ({
        table: t.table, bytesBefore: t.bytes, bytesAfter: after ? bytesOf(after.tables, t.table) : null, deadRowsBefore: t.deadRows,
      })),
    },
    retention: {
      byPolicy: Object.entries(r.byPolicy).sort().map(([policy, v]) => ({ policy, ...v })),
      heldBack: r.heldBack.map((h) => ({ agentId: h.agentId, kind: h.kind, day: h.dayMs > 0 ? isoDay(h.dayMs) : null, records: h.records, policy: h.policy, reason: h.reason })),
      notes: plan.notes,
    },
    compaction: { days: k.days.map((x) => ({ agentId: x.agentId, kind: x.kind as DayKind, day: isoDay(x.dayMs), blocksBefore: x.blocksBefore, blocksAfter: x.blocksAfter, records: x.records })) },
    redis: { idleMinutes: rt?.idleMinutes ?? 0, agentCopies: rt?.agents.length ?? 0, memdocs: [...memdocs].map(([why, v]) => ({ why, ...v })) },
    consistencyToken: token ?? null,
  };
}

