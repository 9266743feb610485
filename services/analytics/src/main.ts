import { jetstream } from '@nats-io/jetstream';
import { ANALYTICS_MIGRATIONS_DIR, ANALYTICS_PROJECTION, analyticsSchema } from '@farmbrain/analytics';
import { consumerGroup, names as makeNames } from '@farmbrain/contracts';
import {
  createLogger,
  createPool,
  createRedis,
  exitOnStartError,
  jetstreamManager,
  migrate,
  onShutdown,
  openNats,
  opsUrl,
  provisionStreams,
  retryUntil,
  startDependencyMonitor,
  startOpsServer,
} from '@farmbrain/platform';
import { newProjectionStats, openLeaseBucket, PartitionRunner, ProjectionRegistry, projectionSession } from '@farmbrain/projection';
import { MIGRATIONS_DIR } from '@farmbrain/store';
import { analyticsProjection } from './analyticsProjection.js';
import { loadConfig } from './config.js';
import { startRetention } from './rollupStore.js';
import { schemaPools, startTierSampler } from './tierSampler.js';
import { applyAlertEvents } from './alerts/applyAlertEvents.js';
import { startAlerts } from './alerts/startAlerts.js';

/**
 * Composition root: the only place that reads config and opens connections. It waits for NATS, Postgres and
 * Redis at start and never exits because one went away: batches retry in place. Instances share the partitions
 * through leases; the owner of partition 0 samples tier sizes.
 */
async function main(): Promise<void> {
  const cfg = loadConfig(process.env);
  const log = createLogger('analytics', cfg.logLevel);
  const n = makeNames(cfg.namespace, cfg.partitions);
  const schema = analyticsSchema(n);
  const nc = await openNats(cfg.natsUrl, 'farmbrain-analytics', log);
  const redis = createRedis(cfg.redisUrl, 'farmbrain-analytics', { commandTimeoutMs: 5000 });
  const monitor = startDependencyMonitor({ log, nats: nc, redis, postgres: { url: cfg.databaseUrl, schema, name: 'farmbrain-analytics' } });
  const ops = await startOpsServer({ ...cfg.ops, readiness: () => monitor.health.readiness(), log });

  const jsm = await jetstreamManager(nc);
  await retryUntil('stream provisioning', () => provisionStreams(jsm, n, cfg.streams), { log });
  const js = jetstream(nc);
  const pool = createPool(cfg.databaseUrl, schema, { max: Math.min(cfg.partitions + 4, 20), name: 'farmbrain-analytics' });
  // The store's migrations bring the projection kit's tables (checkpoints, claims, dead letters); then the rollups'.
  const migrated = await retryUntil('migrations', async () => [...await migrate(pool, schema, MIGRATIONS_DIR), ...await migrate(pool, schema, ANALYTICS_MIGRATIONS_DIR)], { log });
  if (migrated.length > 0) log.info({ schema, applied: migrated }, 'migrations applied');
  const leases = await retryUntil('lease bucket', () => openLeaseBucket(nc, n.leaseBucket, cfg.runner.leaseTtlMs), { log });
  const registry = await retryUntil('projection registry', () => ProjectionRegistry.open(nc, n), { log });

  const kit = newProjectionStats();
  const alertsLog = log.child({ component: 'alerts' });
  const projection = analyticsProjection({ limits: cfg.limits, applyAlerts: (tx, events, partition) => applyAlertEvents(tx, events, { partition, log: alertsLog, webhook: cfg.alerts.webhook ? { maxAgeMs: cfg.alerts.webhook.maxAgeMs } : undefined }),
  });
  const group = consumerGroup(ANALYTICS_PROJECTION);
  const runner = new PartitionRunner({
    nc, js, jsm, kv: leases.kv, leaseTtlMs: leases.ttlMs, group, stream: n.eventsStream,
    filterSubject: (p) => n.eventsFilter(p), durable: (p) => n.durable(group, p), partitions: n.partitions,
    instanceId: cfg.runner.instanceId, batchSize: cfg.batchSize, log, ops: opsUrl(cfg.ops.host, ops),
    open: (p, epoch) => projectionSession(projection, { pool, log, stats: kit }, p, epoch),
  });
  await retryUntil('joining the analytics instances', () => runner.start(), { log });
  // The live tiering version's pool (tier sizes): one per schema, the pool of a version no longer live is closed.
  const tieringPools = schemaPools((s) => createPool(cfg.databaseUrl, s, { max: 2, name: 'farmbrain-analytics-tiers' }));
  const sampler = startTierSampler({
    pool, registry, tieringProjection: cfg.tieringProjection, poolFor: tieringPools.poolFor, redis, intervalMs: cfg.tierSampleMs,
    sampling: () => runner.leases.valid(0), log: log.child({ component: 'tiers' }),
  });
  // Each partition's owner prunes its own rows past retention (tier_samples: the owner of partition 0).
  const retention = startRetention({
    pool, retention: cfg.retention, intervalMs: cfg.prune.intervalMs, batch: cfg.prune.batch,
    owned: () => runner.owned().filter((p) => runner.leases.valid(p)), owns: (p) => runner.leases.valid(p), log: log.child({ component: 'retention' }),
  });
  // The rules are evaluated by the owner of partition 0 (one evaluator); webhooks are delivered by each partition's owner.
  const alerts = startAlerts({
    config: cfg.alerts, pool, schema, js, jsm, names: n, registry, log,
    owned: () => runner.owned(), valid: (p) => runner.leases.valid(p), leading: () => runner.leases.valid(0),
  });
  log.info({ namespace: n.namespace, partitions: n.partitions, instance: cfg.runner.instanceId, schema, owned: runner.owned() }, 'analytics running');
  const timer = setInterval(() => log.info({ ...kit, owned: runner.owned() }, 'analytics stats'), 30_000).unref();
  onShutdown(log, async () => {
    clearInterval(timer);
    await alerts.stop();
    await sampler.stop();
    await retention.stop();
    await tieringPools.close();
    // Drains each partition (the batch in hand commits and is acked) and hands the leases back.
    await runner.stop();
    ops?.close();
    await monitor.close();
    await nc.drain().catch(() => undefined);
    redis.disconnect();
    await pool.end().catch(() => undefined);
  }, { timeoutMs: cfg.drainTimeoutMs });
}

main().catch((err) => exitOnStartError('analytics', err));
