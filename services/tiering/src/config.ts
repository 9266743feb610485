import type { EventLimits } from '@farmbrain/contracts';
import { loadArchiveConfig, type ArchiveStoreConfig } from '@farmbrain/archive';
import { loadLifecycleConfig, type LifecycleConfig } from '@farmbrain/lifecycle';
import { loadRunnerConfig, type RunnerConfig } from '@farmbrain/projection';
import { loadCommonConfig, loadEventLimits, loadOpsConfig, readers, type CommonConfig, type Env, type OpsConfig } from '@farmbrain/platform';

export interface TieringConfig extends CommonConfig {
  /** Canonical messages applied per Postgres transaction and partition. */
  batchSize: number;
  /** Decisions kept per agent in Redis. */
  hotDecisions: number;
  /** Recent memories kept per agent in Redis. */
  hotMemories: number;
  /** Name under which the projection's checkpoints are kept in Postgres. */
  projection: string;
  /** The ops endpoint (/healthz, /readyz). */
  ops: OpsConfig;
  /** Event limits (the same FB_MAX_* settings as ingest's): the projection checks what it applies by the same rules. */
  limits: EventLimits;
  /** This instance's name and the partition leases' TTL. */
  runner: RunnerConfig;
  /** Longest SIGTERM drain (finish the batch in hand, ack) before exiting anyway, ms. */
  drainTimeoutMs: number;
  /**
   * The archive (FB_ARCHIVE_URL, when set): a partition taken over replays what the archive holds after its
   * checkpoint before it reads the stream (a rebuild reads the archive, then the stream). Unset: the stream only.
   */
  archive: ArchiveStoreConfig | undefined;
  /** The lifecycle policies and how often the scheduler runs them (FB_LIFECYCLE, FB_LIFECYCLE_INTERVAL_MS, FB_LIFECYCLE_POLICY[_FILE]). */
  lifecycle: LifecycleConfig;
}

export function loadConfig(env: Env): TieringConfig {
  const r = readers(env);
  return {
    ...loadCommonConfig(env),
    batchSize: r.int('FB_TIERING_BATCH', 256, 1, 10_000),
    hotDecisions: r.int('FB_HOT_DECISIONS', 50, 10, 10_000),
    hotMemories: r.int('FB_HOT_MEMORIES', 100, 10, 100_000),
    projection: r.str('FB_TIERING_PROJECTION', 'tiering.v1'),
    ops: loadOpsConfig(env, 'tiering', 8082),
    limits: loadEventLimits(env),
    runner: loadRunnerConfig(env, 'tiering'),
    drainTimeoutMs: r.int('FB_DRAIN_TIMEOUT_MS', 10_000, 100, 600_000),
    archive: archiveOf(env),
    lifecycle: loadLifecycleConfig(env),
  };
}

function archiveOf(env: Env): ArchiveStoreConfig | undefined {
  const a = loadArchiveConfig(env);
  return a.configured ? a.store : undefined;
}
