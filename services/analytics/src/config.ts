import { loadRunnerConfig, type RunnerConfig } from '@farmbrain/projection';
import { loadCommonConfig, loadEventLimits, loadOpsConfig, readers, type CommonConfig, type Env, type OpsConfig } from '@farmbrain/platform';
import type { EventLimits } from '@farmbrain/contracts';
import { loadAlertConfig, type AlertConfig } from '@farmbrain/analytics';

export interface AnalyticsServiceConfig extends CommonConfig {
  /** Canonical messages applied per Postgres transaction and partition. */
  batchSize: number;
  /** The ops endpoint (/healthz, /readyz). */
  ops: OpsConfig;
  /** Event limits (the same FB_MAX_* settings as ingest's): the projection checks what it applies by the same rules. */
  limits: EventLimits;
  /** This instance's name and the partition leases' TTL. */
  runner: RunnerConfig;
  /** Longest SIGTERM drain (the batch in hand commits and is acked) before exiting anyway, ms. */
  drainTimeoutMs: number;
  /** The tiering projection's first version (FB_TIERING_PROJECTION): the tier sampler follows the live one from the registry. */
  tieringProjection: string;
  /** How often the owner of partition 0 samples tier sizes, ms (0: never). */
  tierSampleMs: number;
  /** Alert rules, how often they are evaluated, and the webhook (FB_ALERTS, FB_ALERT_RULES[_FILE], FB_ALERT_WEBHOOK_*). */
  alerts: AlertConfig;
}

export function loadConfig(env: Env): AnalyticsServiceConfig {
  const r = readers(env);
  return {
    ...loadCommonConfig(env),
    batchSize: r.int('FB_ANALYTICS_BATCH', 500, 1, 10_000),
    ops: loadOpsConfig(env, 'analytics', 8084),
    limits: loadEventLimits(env),
    runner: loadRunnerConfig(env, 'analytics'),
    drainTimeoutMs: r.int('FB_DRAIN_TIMEOUT_MS', 10_000, 100, 600_000),
    tieringProjection: r.str('FB_TIERING_PROJECTION', 'tiering.v1'),
    tierSampleMs: r.int('FB_ANALYTICS_TIER_SAMPLE_MS', 60_000, 0, 86_400_000),
    alerts: loadAlertConfig(env),
  };
}
