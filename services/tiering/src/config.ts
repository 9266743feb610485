import type { EventLimits } from '@farmbrain/contracts';
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
  };
}
