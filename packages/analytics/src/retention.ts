import { bucketOf, GRAIN_MS } from './buckets.js';

/** How long the analytics service keeps what would otherwise grow forever, in days (0: keep forever). */
export interface Retention {
  /** Minute-grain rows of rollups, rollup_calibration and rollup_latency (hour and day rows are kept). */
  minuteDays: number;
  /** tier_samples rows. */
  tierSampleDays: number;
  /** analytics_decisions rows: a close applied later can no longer score a decision pruned from there. */
  decisionDays: number;
}

export const DEFAULT_RETENTION: Retention = { minuteDays: 14, tierSampleDays: 90, decisionDays: 90 };

/** The tables retention prunes. */
export type PrunedTable = 'rollups' | 'rollup_calibration' | 'rollup_latency' | 'analytics_decisions' | 'tier_samples';

/**
 * One prune to run: delete the rows of `table` (of `partition`, for the partitioned tables) older than `before`
 * (epoch ms, exclusive): minute buckets starting before it (each ends at or before it), decisions that occurred
 * before it, tier samples taken before it.
 */
export interface PruneTask {
  table: PrunedTable;
  /** The partition whose rows are pruned; absent for tier_samples (not partitioned: the owner of partition 0 prunes it). */
  partition?: number;
  before: number;
  /** analytics_decisions only: the retention itself, also applied from the partition's newest decision (see pruneTasks). */
  retentionMs?: number;
}

const DAY = GRAIN_MS.day;

/**
 * What is due for pruning at `now` on an instance that owns `owned` partitions: each owner prunes its own
 * partition's rows only (so owners never contend), and the owner of partition 0 also prunes tier_samples.
 * A minute bucket is due once all of it is older than the retention (its start before the minute holding
 * now − retention). Decisions are due once older than the retention both by the clock and by the partition's
 * newest decision, so that a rebuild replaying an old log keeps a decision for the closes that follow it
 * within the retention in event time (the SQL applies the second bound). Pure.
 */
export function pruneTasks(now: number, r: Retention, owned: readonly number[]): PruneTask[] {
  const tasks: PruneTask[] = [];
  const parts = [...new Set(owned)].sort((a, b) => a - b);
  for (const partition of parts) {
    if (r.minuteDays > 0) {
      const before = bucketOf(now - r.minuteDays * DAY, 'minute');
      for (const table of ['rollups', 'rollup_calibration', 'rollup_latency'] as const) tasks.push({ table, partition, before });
    }
    if (r.decisionDays > 0) tasks.push({ table: 'analytics_decisions', partition, before: now - r.decisionDays * DAY, retentionMs: r.decisionDays * DAY });
  }
  if (r.tierSampleDays > 0 && parts.includes(0)) tasks.push({ table: 'tier_samples', before: now - r.tierSampleDays * DAY });
  return tasks;
}
