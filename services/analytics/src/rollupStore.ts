import {
  COUNTERS, columnOf, pruneTasks, REAL_COUNTERS,
  type Accumulated, type DecisionFacts, type Known, type PrunedTable, type PruneTask, type RealCounter, type Retention, type RollupKey,
} from '@farmbrain/analytics';
import type { Logger, Pool, PoolClient } from '@farmbrain/platform';

/** What a batch needs from before it (its agents' teams, the decisions its closes name), read in its transaction. */
export async function loadKnown(tx: PoolClient, agentIds: readonly string[], decisionIds: readonly string[]): Promise<Known> {
  const teams = new Map<string, string>();
  const decisions = new Map<string, DecisionFacts>();
  if (agentIds.length > 0) {
    const r = await tx.query<{ agent_id: string; team: string }>('SELECT agent_id, team FROM analytics_agents WHERE agent_id = ANY($1::text[])', [agentIds]);
    for (const row of r.rows) teams.set(row.agent_id, row.team);
  }
  const uuids = decisionIds.filter((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id));
  if (uuids.length > 0) {
    const r = await tx.query<{ decision_id: string; agent_id: string; action: string; confidence: number; cited_memories: number; occurred_at: Date }>(
      'SELECT decision_id, agent_id, action, confidence, cited_memories, occurred_at FROM analytics_decisions WHERE decision_id = ANY($1::uuid[])', [uuids]);
    for (const d of r.rows) {
      decisions.set(d.decision_id, { decisionId: d.decision_id, agentId: d.agent_id, action: d.action, confidence: d.confidence, citedMemories: d.cited_memories, occurredAt: d.occurred_at.getTime() });
    }
  }
  return { team: (a) => teams.get(a), decision: (id) => decisions.get(id.toLowerCase()) };
}

const keyColumns = (keys: readonly RollupKey[]) => [keys.map((k) => k.scope), keys.map((k) => k.scopeId), keys.map((k) => k.grain), keys.map((k) => new Date(k.bucket))];

/**
 * Writes a batch's increments in its transaction: one multi-row upsert per table, rows in key order, each
 * row keyed by this partition (no other partition owner writes it). Real sums are exact decimals kept without
 * trailing zeros (trim_scale), so a row reads the same however its increments were cut into batches. Agents and
 * decisions are kept for later batches (decisions by id, first write wins).
 */
export async function writeAccumulated(tx: PoolClient, partition: number, acc: Accumulated): Promise<void> {
  if (acc.agents.length > 0) {
    await tx.query(
      `INSERT INTO analytics_agents AS a (agent_id, partition, last_event_at)
       SELECT u.agent_id, $1, u.at FROM unnest($2::text[], $3::timestamptz[]) AS u(agent_id, at)
       ON CONFLICT (agent_id) DO UPDATE SET last_event_at = greatest(a.last_event_at, EXCLUDED.last_event_at)`,
      [partition, acc.agents.map((a) => a.agentId), acc.agents.map((a) => new Date(a.lastEventAt))]);
    const reg = acc.agents.filter((a) => a.registered);
    if (reg.length > 0) {
      await tx.query(
        `UPDATE analytics_agents a SET name = u.name, team = u.team FROM unnest($1::text[], $2::text[], $3::text[]) AS u(agent_id, name, team) WHERE a.agent_id = u.agent_id`,
        [reg.map((a) => a.agentId), reg.map((a) => a.registered!.name), reg.map((a) => a.registered!.team)]);
    }
  }
  if (acc.decisions.length > 0) {
    const d = acc.decisions;
    await tx.query(
      `INSERT INTO analytics_decisions (decision_id, agent_id, partition, action, confidence, cited_memories, occurred_at)
       SELECT u.id, u.agent_id, $1, u.action, u.confidence, u.cited, u.at
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::float8[], $6::int[], $7::timestamptz[]) AS u(id, agent_id, action, confidence, cited, at)
       ON CONFLICT (decision_id) DO NOTHING`,
      [partition, d.map((x) => x.decisionId), d.map((x) => x.agentId), d.map((x) => x.action), d.map((x) => x.confidence), d.map((x) => x.citedMemories), d.map((x) => new Date(x.occurredAt))]);
  }
  if (acc.rollups.length > 0) {
    const cols = COUNTERS.map(columnOf);
    const casts = COUNTERS.map((c) => (REAL_COUNTERS.has(c) ? 'numeric[]' : 'bigint[]'));
    const values = COUNTERS.map((c) => acc.rollups.map((r) => (REAL_COUNTERS.has(c) ? r.exact[c as RealCounter] : r.c[c])));
    const params = [partition, ...keyColumns(acc.rollups.map((r) => r.key)), ...values];
    await tx.query(
      `INSERT INTO rollups AS r (scope, scope_id, grain, bucket, partition, ${cols.join(', ')})
       SELECT u.scope, u.scope_id, u.grain, u.bucket, $1, ${cols.map((c) => `u.${c}`).join(', ')}
         FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], ${casts.map((t, i) => `$${i + 6}::${t}`).join(', ')})
           AS u(scope, scope_id, grain, bucket, ${cols.join(', ')})
       ON CONFLICT (scope, scope_id, grain, bucket, partition) DO UPDATE SET ${COUNTERS.map((c) => (REAL_COUNTERS.has(c) ? `${columnOf(c)} = trim_scale(r.${columnOf(c)} + EXCLUDED.${columnOf(c)})` : `${columnOf(c)} = r.${columnOf(c)} + EXCLUDED.${columnOf(c)}`)).join(', ')}`,
      params);
  }
  if (acc.calibration.length > 0) {
    const c = acc.calibration;
    await tx.query(
      `INSERT INTO rollup_calibration AS r (scope, scope_id, grain, bucket, partition, bin, n, wins, confidence_sum)
       SELECT u.scope, u.scope_id, u.grain, u.bucket, $1, u.bin, u.n, u.wins, u.cs
         FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::smallint[], $7::bigint[], $8::bigint[], $9::numeric[]) AS u(scope, scope_id, grain, bucket, bin, n, wins, cs)
       ON CONFLICT (scope, scope_id, grain, bucket, partition, bin) DO UPDATE SET n = r.n + EXCLUDED.n, wins = r.wins + EXCLUDED.wins, confidence_sum = trim_scale(r.confidence_sum + EXCLUDED.confidence_sum)`,
      [partition, ...keyColumns(c.map((x) => x.key)), c.map((x) => x.bin), c.map((x) => x.n), c.map((x) => x.wins), c.map((x) => x.confidenceSum)]);
  }
  if (acc.latency.length > 0) {
    const l = acc.latency;
    await tx.query(
      `INSERT INTO rollup_latency AS r (scope, scope_id, grain, bucket, partition, bin, n)
       SELECT u.scope, u.scope_id, u.grain, u.bucket, $1, u.bin, u.n
         FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::smallint[], $7::bigint[]) AS u(scope, scope_id, grain, bucket, bin, n)
       ON CONFLICT (scope, scope_id, grain, bucket, partition, bin) DO UPDATE SET n = r.n + EXCLUDED.n`,
      [partition, ...keyColumns(l.map((x) => x.key)), l.map((x) => x.bin), l.map((x) => x.n)]);
  }
}

/** A task's rows: the partition's own rows older than the cutoff (tier_samples: every sample older than it). */
function pruneWhere(task: PruneTask): { where: string; params: unknown[] } {
  const before = new Date(task.before);
  switch (task.table) {
    case 'tier_samples':
      return { where: 't < $1', params: [before] };
    case 'analytics_decisions':
      // Also bounded by the partition's newest decision, so that a replay of an old log keeps a decision for
      // the closes that follow it within the retention in event time (least ignores the NULL of no decision).
      return {
        where: `partition = $1 AND occurred_at < least($2::timestamptz,
          (SELECT max(occurred_at) FROM analytics_decisions WHERE partition = $1) - make_interval(secs => $3::float8 / 1000))`,
        params: [task.partition, before, task.retentionMs ?? 0],
      };
    case 'rollups':
    case 'rollup_calibration':
    case 'rollup_latency':
      return { where: "grain = 'minute' AND partition = $1 AND bucket < $2", params: [task.partition, before] };
  }
}

/**
 * Deletes at most `limit` of the rows a task names (every one is due, so which ones matters not) and says how
 * many. Rows another transaction holds (an apply upserting a late event's bucket) are skipped, not waited for,
 * so a prune never blocks the partition's batches nor deadlocks with them: the next run takes them.
 */
export async function pruneBatch(pool: Pool, task: PruneTask, limit: number): Promise<number> {
  const { where, params } = pruneWhere(task);
  const table: PrunedTable = task.table;
  const r = await pool.query(
    `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE ${where} LIMIT $${params.length + 1} FOR UPDATE SKIP LOCKED))`,
    [...params, limit]);
  return r.rowCount ?? 0;
}

export interface RetentionDeps {
  /** The analytics schema's pool. */
  pool: Pool;
  retention: Retention;
  /** How often the due rows are pruned, ms (0: never). */
  intervalMs: number;
  /** Rows per DELETE. */
  batch: number;
  /** The partitions this instance owns now; a prune stops between batches once one is no longer owned. */
  owned: () => readonly number[];
  owns: (partition: number) => boolean;
  log: Logger;
  now?: () => number;
}

/**
 * Every `intervalMs`, deletes what `pruneTasks` says is due for the partitions this instance owns (its own
 * rows only; tier_samples by the owner of partition 0), `batch` rows per statement until a statement deletes
 * fewer. Each statement commits alone (short locks, no long transaction).
 */
export function startRetention(d: RetentionDeps): { stop(): Promise<void>; pruneNow(): Promise<number> } {
  const now = d.now ?? Date.now;
  let stopping = false;
  const pruneNow = async (): Promise<number> => {
    let deleted = 0;
    for (const task of pruneTasks(now(), d.retention, d.owned())) {
      const owner = task.partition ?? 0;
      for (;;) {
        if (stopping || !d.owns(owner)) return deleted;
        const n = await pruneBatch(d.pool, task, d.batch);
        deleted += n;
        if (n < d.batch) break;
      }
    }
    return deleted;
  };
  let running: Promise<unknown> | undefined;
  const tick = () => {
    if (running) return;
    running = pruneNow()
      .then((n) => { if (n > 0) d.log.info({ deleted: n }, 'analytics rows past their retention pruned'); })
      .catch((err: unknown) => d.log.warn({ err }, 'analytics prune failed; the next interval retries'))
      .finally(() => { running = undefined; });
  };
  const timer = d.intervalMs > 0 ? setInterval(tick, d.intervalMs) : undefined;
  timer?.unref();
  return {
    pruneNow,
    stop: async () => {
      stopping = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
