import { loadArchiveConfig, type ArchiveConfig } from '@farmbrain/archive';
import { loadRunnerConfig, type RunnerConfig } from '@farmbrain/projection';
import { loadCommonConfig, loadOpsConfig, readers, type CommonConfig, type Env, type OpsConfig } from '@farmbrain/platform';

/** The projection's name: its checkpoints, consumer group (`archive_v1`) and durables (`archive_v1_p<n>`). */
export const ARCHIVE_PROJECTION = 'archive.v1';

export interface ArchiveServiceConfig extends CommonConfig {
  /** Canonical messages stored per Postgres transaction and partition. */
  batchSize: number;
  /** Where segments go, and when a segment is sealed. */
  archive: ArchiveConfig;
  /** The ops endpoint (/healthz, /readyz). */
  ops: OpsConfig;
  /** This instance's name and the partition leases' TTL. */
  runner: RunnerConfig;
  /** Longest SIGTERM drain (the batch in hand and a seal in progress finish) before exiting anyway, ms. */
  drainTimeoutMs: number;
}

export function loadConfig(env: Env): ArchiveServiceConfig {
  const r = readers(env);
  return {
    ...loadCommonConfig(env),
    batchSize: r.int('FB_ARCHIVE_BATCH', 1000, 1, 10_000),
    archive: loadArchiveConfig(env),
    ops: loadOpsConfig(env, 'archive', 8083),
    runner: loadRunnerConfig(env, 'archive'),
    drainTimeoutMs: r.int('FB_DRAIN_TIMEOUT_MS', 10_000, 100, 600_000),
  };
}
