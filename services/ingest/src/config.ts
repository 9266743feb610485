import type { EventLimits, ScopePolicy } from '@farmbrain/contracts';
import { loadRunnerConfig, type RunnerConfig } from '@farmbrain/projection';
import { loadCommonConfig, loadEventLimits, loadOpsConfig, loadScopePolicy, readers, type CommonConfig, type Env, type OpsConfig } from '@farmbrain/platform';

export interface IngestConfig extends CommonConfig {
  limits: EventLimits;
  /** Who may write team and fleet memories. */
  scopes: ScopePolicy;
  /** Ingress messages handled per batch and partition. */
  batchSize: number;
  /** The ops endpoint (/healthz, /readyz). */
  ops: OpsConfig;
  /** This instance's name and the partition leases' TTL. */
  runner: RunnerConfig;
  /** Longest SIGTERM drain (finish the batch in hand, ack) before exiting anyway, ms. */
  drainTimeoutMs: number;
}

/** Reads and validates the ingest configuration once; every default lives in one place. */
export function loadConfig(env: Env): IngestConfig {
  const r = readers(env);
  return {
    ...loadCommonConfig(env),
    limits: loadEventLimits(env),
    scopes: loadScopePolicy(env),
    batchSize: r.int('FB_INGEST_BATCH', 256, 1, 10_000),
    ops: loadOpsConfig(env, 'ingest', 8081),
    runner: loadRunnerConfig(env, 'ingest'),
    drainTimeoutMs: r.int('FB_DRAIN_TIMEOUT_MS', 10_000, 100, 600_000),
  };
}
