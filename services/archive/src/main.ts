import { jetstream } from '@nats-io/jetstream';
import { archiveSchema, openArchiveStore } from '@farmbrain/archive';
import { consumerGroup, names as makeNames } from '@farmbrain/contracts';
import {
  createLogger,
  createPool,
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
import { newProjectionStats, openLeaseBucket, PartitionRunner, projectionSession } from '@farmbrain/projection';
import { MIGRATIONS_DIR } from '@farmbrain/store';
import { archiveProjection } from './archiveProjection.js';
import { ARCHIVE_PROJECTION, loadConfig } from './config.js';
import { newArchiveStats, Sealer } from './sealer.js';

/**
 * Composition root: the only place that reads config and opens connections.
 * It waits for NATS, Postgres and the store at start and never exits because
 * one went away: batches retry in place, seals are retried later (the messages
 * wait in Postgres). Instances share the partitions through leases.
 */
async function main(): Promise<void> {
  const cfg = loadConfig(process.env);
  const log = createLogger('archive', cfg.logLevel);
  const n = makeNames(cfg.namespace, cfg.partitions);
  const schema = archiveSchema(n);
  const store = openArchiveStore(cfg.archive.store);
  const nc = await openNats(cfg.natsUrl, 'farmbrain-archive', log);
  const monitor = startDependencyMonitor({
    log, nats: nc, postgres: { url: cfg.databaseUrl, schema, name: 'farmbrain-archive' },
    extra: { store: () => store.exists(`${n.namespace}/readiness-probe`) },
  });
  const ops = await startOpsServer({ ...cfg.ops, readiness: () => monitor.health.readiness(), log });

  const jsm = await jetstreamManager(nc);
  await retryUntil('stream provisioning', () => provisionStreams(jsm, n, cfg.streams), { log });
  const js = jetstream(nc);
  const pool = createPool(cfg.databaseUrl, schema, { max: Math.min(cfg.partitions + 2, 20), name: 'farmbrain-archive' });
  const migrated = await retryUntil('migrations', () => migrate(pool, schema, MIGRATIONS_DIR), { log });
  if (migrated.length > 0) log.info({ schema, applied: migrated }, 'migrations applied');
  const leases = await retryUntil('lease bucket', () => openLeaseBucket(nc, n.leaseBucket, cfg.runner.leaseTtlMs), { log });

  const stats = newArchiveStats();
  const kit = newProjectionStats();
  let runner: PartitionRunner | undefined;
  const sealer = new Sealer({
    pool, store, namespace: n.namespace, projection: ARCHIVE_PROJECTION, limits: cfg.archive.segments, log, stats,
    owns: (p) => runner?.leases.valid(p) ?? false,
    origin: async () => Math.max(0, (await jsm.streams.info(n.eventsStream)).state.first_seq - 1),
  });
  const projection = archiveProjection(sealer);
  const group = consumerGroup(ARCHIVE_PROJECTION);
  runner = new PartitionRunner({
    nc, js, jsm, kv: leases.kv, leaseTtlMs: leases.ttlMs, group, stream: n.eventsStream,
    filterSubject: (p) => n.eventsFilter(p), durable: (p) => n.durable(group, p), partitions: n.partitions,
    instanceId: cfg.runner.instanceId, batchSize: cfg.batchSize, log, ops: opsUrl(cfg.ops.host, ops),
    open: (p, epoch) => projectionSession(projection, { pool, log, stats: kit }, p, epoch),
  });
  await retryUntil('joining the archive instances', () => runner!.start(), { log });
  sealer.start();
  log.info({ namespace: n.namespace, partitions: n.partitions, instance: cfg.runner.instanceId, store: store.location, schema, segments: cfg.archive.segments, owned: runner.owned() }, 'archive running');
  const timer = setInterval(() => log.info({ ...stats, batches: kit.batches, ratio: stats.storedBytes ? Number((stats.rawBytes / stats.storedBytes).toFixed(2)) : null, owned: runner!.owned() }, 'archive stats'), 30_000).unref();
  onShutdown(log, async () => {
    clearInterval(timer);
    sealer.stop();
    // Drains each partition (the batch in hand commits and is acked; a seal in progress finishes) and hands the leases back.
    // What is pending stays in Postgres: whoever holds the partition next seals it by the same limits.
    await runner!.stop();
    ops?.close();
    await monitor.close();
    await nc.drain().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await store.close?.();
  }, { timeoutMs: cfg.drainTimeoutMs });
}

main().catch((err) => exitOnStartError('archive', err));
