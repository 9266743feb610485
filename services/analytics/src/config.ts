import { loadRunnerConfig, type RunnerConfig } from '@farmbrain/projection';
import { loadCommonConfig, loadEventLimits, loadOpsConfig, readers, type CommonConfig, type Env, type OpsConfig } from '@farmbrain/platform';
import type { EventLimits } from '@farmbrain/contracts';
import { DEFAULT_RETENTION, loadAlertConfig, type AlertConfig, type Retention } from '@farmbrain/analytics';

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
  /**
   * Days kept (0: forever) of minute-grain rollups (FB_ANALYTICS_MINUTE_RETENTION_DAYS), tier samples
   * (FB_ANALYTICS_TIER_SAMPLE_RETENTION_DAYS) and decisions awaiting a close (FB_ANALYTICS_DECISION_RETENTION_DAYS).
   */
  retention: Retention;
  /** How often each partition owner prunes its rows past retention, ms (FB_ANALYTICS_PRUNE_MS; 0: never), and rows per DELETE (FB_ANALYTICS_PRUNE_BATCH). */
  prune: { intervalMs: number; batch: number };
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
    retention: {
      minuteDays: retentionDays(r, 'FB_ANALYTICS_MINUTE_RETENTION_DAYS', DEFAULT_RETENTION.minuteDays),
      tierSampleDays: retentionDays(r, 'FB_ANALYTICS_TIER_SAMPLE_RETENTION_DAYS', DEFAULT_RETENTION.tierSampleDays),
      decisionDays: retentionDays(r, 'FB_ANALYTICS_DECISION_RETENTION_DAYS', DEFAULT_RETENTION.decisionDays),
    },
    prune: { intervalMs: r.int('FB_ANALYTICS_PRUNE_MS', 600_000, 0, 86_400_000), batch: r.int('FB_ANALYTICS_PRUNE_BATCH', 5000, 1, 100_000) },
    alerts: loadAlertConfig(env),
  };
}

/** Whole days: 0 keeps forever, else at least a day (the indicators read minute buckets over windows of up to 6 h ending now). */
const retentionDays = (r: ReturnType<typeof readers>, name: string, def: number): number => r.int(name, def, 0, 36_500);
