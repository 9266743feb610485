import { jetstream } from '@nats-io/jetstream';
import { ArchiveReader, archiveSchema, openArchiveStore, toCanonical } from '@farmbrain/archive';
import { consumerGroup, names as makeNames } from '@farmbrain/contracts';
import {
  createEmbedder,
  createLogger,
  createPool,
  createRedis,
  exitOnStartError,
  jetstreamManager,
  MemoryKeys,
  loadEmbedConfig,
  migrate,
  onShutdown,
  openNats,
  provisionStreams,
  retryUntil,
  startDependencyMonitor,
  opsUrl,
  startOpsServer,
} from '@farmbrain/platform';
import {
  openLeaseBucket,
  PartitionRunner,
  ProjectionRegistry,
  projectionSession,
  VersionHost,
  type CanonicalMessage,
  type HostedVersion,
  type ProjectionVersion,
} from '@farmbrain/projection';
import { HotView, MIGRATIONS_DIR } from '@farmbrain/store';
import { loadConfig } from './config.js';
import { rehydrate } from './hot/rehydrate.js';
import { startLifecycleScheduler } from './lifecycle/scheduler.js';
import { newTieringStats, tieringProjection } from './tieringProjection.js';

/**
 * Composition root: the only place that reads config and opens connections.
 * It never exits because a dependency is down: it waits for each at start,
 * and afterwards the partitions retry in place until it is back. Instances
 * share the partitions through leases (FB_INSTANCE_ID names each one).
 */
async function main(): Promise<void> {
  const cfg = loadConfig(process.env);
  const log = createLogger('tiering', cfg.logLevel);
  const n = makeNames(cfg.namespace, cfg.partitions);
  const redis = createRedis(cfg.redisUrl, 'farmbrain-tiering', { commandTimeoutMs: 5000 });
  const nc = await openNats(cfg.natsUrl, 'farmbrain-tiering', log);
  const monitor = startDependencyMonitor({ log, nats: nc, redis, postgres: { url: cfg.databaseUrl, schema: n.pgSchema, name: 'farmbrain-tiering' } });
  const ops = await startOpsServer({ ...cfg.ops, readiness: () => monitor.health.readiness(), log });

  const jsm = await jetstreamManager(nc);
  await retryUntil('stream provisioning', () => provisionStreams(jsm, n, cfg.streams), { log });
  const js = jetstream(nc);
  const leases = await retryUntil('lease bucket', () => openLeaseBucket(nc, n.leaseBucket, cfg.runner.leaseTtlMs), { log });
  const embedder = createEmbedder(loadEmbedConfig(process.env));
  log.info({ model: embedder.model }, 'memories without an embedding are embedded with this model');
  const registry = await retryUntil('projection registry', () => ProjectionRegistry.open(nc, n), { log });
  const stats = newTieringStats();
  // Sealed memory content (ingest encrypts it with each memory's key) is opened with the keys.
  const keys = await retryUntil('memory key bucket', () => MemoryKeys.open(nc, n.keysBucket), { log });
  const archive = openArchive();

  /**
   * With an archive (FB_ARCHIVE_URL): what it holds of a partition after a checkpoint, replayed before the stream
   * (a rebuild reads the archive, then the stream, which then need not keep the whole log).
   */
  function openArchive(): { store: ReturnType<typeof openArchiveStore>; history(p: number, afterSeq: number): AsyncIterable<CanonicalMessage[]>; close(): Promise<void> } | undefined {
    if (!cfg.archive) return undefined;
    const store = openArchiveStore(cfg.archive);
    const pool = createPool(cfg.databaseUrl, archiveSchema(n), { max: 2, name: 'farmbrain-tiering-archive' });
    const reader = new ArchiveReader({ store, namespace: n.namespace, pool });
    log.info({ archive: store.location }, 'partitions replay the archive after their checkpoint before the stream');
    return {
      store,
      async *history(p, afterSeq) {
        const gap = (cursor: number, next: number) => log.warn({ partition: p, cursor, archiveResumesAfter: next },
          'the archive holds nothing contiguous after this sequence; the rest comes from the stream');
        for await (const chunk of reader.messages(p, afterSeq, { chunk: cfg.batchSize, onGap: gap })) yield chunk.map(toCanonical);
      },
      close: async () => {
        await pool.end().catch(() => undefined);
        await store.close?.();
      },
    };
  }

  /**
   * Applies one version of the projection here (blue/green: the live one, and a rebuild's target while
   * it exists): its own schema (migrated), Redis key prefix, durables and leases.
   */
  const startVersion = async (v: ProjectionVersion): Promise<HostedVersion> => {
    const pool = createPool(cfg.databaseUrl, v.schema, { max: Math.min(cfg.partitions + 2, 20), name: `farmbrain-tiering-${v.name}` });
    const migrated = await migrate(pool, v.schema, MIGRATIONS_DIR).catch(async (err: unknown) => {
      await pool.end().catch(() => undefined);
      throw err;
    });
    if (migrated.length > 0) log.info({ version: v.name, schema: v.schema, applied: migrated }, 'migrations applied');
    const hot = new HotView(redis, v.redisPrefix, { decisions: cfg.hotDecisions, memories: cfg.hotMemories });
    const group = consumerGroup(v.name);
    let runner: PartitionRunner | undefined;
    // Redis restarted empty (or came back from an older snapshot): rebuild the lost hot copies of the partitions
    // held here, in the background. Until then readers see those agents as not hot, and read Postgres.
    let sweeping: Promise<void> | undefined;
    let again = false;
    const sweep = (): void => {
      if (sweeping) {
        again = true;
        return;
      }
      sweeping = retryUntil('rebuilding lost hot copies', () => rehydrate(pool, hot, { projection: v.name, partitions: n.partitions, owned: runner?.owned() ?? [], log }), { log })
        .then((k) => void (stats.hydrated += k))
        .catch((err: unknown) => log.error({ err }, 'rebuilding lost hot copies failed'))
        .finally(() => {
          sweeping = undefined;
          if (again) {
            again = false;
            sweep();
          }
        });
    };
    sweeps.add(sweep);
    const projection = tieringProjection({ pool, hot, log, name: v.name, embedder, limits: cfg.limits, partitions: n.partitions, keys, onHotLost: () => sweep(), stats,
      // Blocks moved to the archive tier go to the archive's object store (without one, such moves are dead-lettered).
      lifecycle: { namespace: n.namespace, ...(archive ? { store: archive.store } : {}) } });
    runner = new PartitionRunner({
      nc, js, jsm, kv: leases.kv, leaseTtlMs: leases.ttlMs, group, stream: n.eventsStream,
      filterSubject: (p) => n.eventsFilter(p), durable: (p) => n.durable(group, p), partitions: n.partitions,
      instanceId: cfg.runner.instanceId, batchSize: cfg.batchSize, log, ops: opsUrl(cfg.ops.host, ops),
      // Taking a partition over raises its checkpoint's epoch (fencing the previous owner) and rebuilds what Redis lost.
      open: (p, epoch) => projectionSession(projection, { pool, log, stats }, p, epoch),
      ...(archive ? { history: archive.history } : {}),
    });
    try {
      await runner.start();
    } catch (err) {
      sweeps.delete(sweep);
      await pool.end().catch(() => undefined);
      throw err;
    }
    owned.set(v.name, () => runner!.owned());
    // The lifecycle policies, for the agents of the partitions held here, while this version is the live one.
    const lifecycle = cfg.lifecycle.enabled
      ? startLifecycleScheduler({
        pool, js, names: n, policy: cfg.lifecycle.policy, intervalMs: cfg.lifecycle.intervalMs, archive: cfg.archive !== undefined,
        owned: () => runner!.owned(), log: log.child({ version: v.name, component: 'lifecycle' }),
        isLive: async () => (await registry.read('tiering', cfg.projection)).live === v.name,
      })
      : undefined;
    return {
      stop: async () => {
        await lifecycle?.stop();
        await runner!.stop();
        owned.delete(v.name);
        sweeps.delete(sweep);
        await sweeping;
        await pool.end().catch(() => undefined);
      },
    };
  };
  const sweeps = new Set<() => void>();
  const owned = new Map<string, () => number[]>();
  // The first `ready` is the start-up connection; later ones are reconnections.
  let connectedBefore = redis.status === 'ready';
  redis.on('ready', () => {
    if (connectedBefore) for (const sweep of sweeps) sweep();
    connectedBefore = true;
  });
  const host = new VersionHost({ registry, service: 'tiering', firstVersion: cfg.projection, log, start: startVersion });
  await retryUntil('joining the tiering instances', () => host.start(), { log });
  const ownedNow = () => Object.fromEntries([...owned].map(([v, f]) => [v, f()]));
  log.info({ namespace: n.namespace, partitions: n.partitions, instance: cfg.runner.instanceId, leaseTtlMs: leases.ttlMs, versions: host.running(), owned: ownedNow() }, 'tiering running');
  const timer = setInterval(() => log.info({ ...stats, owned: ownedNow() }, 'tiering stats'), 30_000).unref();
  onShutdown(log, async () => {
    clearInterval(timer);
    // Drains each partition of each version (the batch in hand commits and is acked) and hands the leases back.
    await host.stop();
    ops?.close();
    await monitor.close();
    await nc.drain().catch(() => undefined);
    // Each version's pool was ended with it (host.stop).
    await archive?.close();
    await redis.quit().catch(() => undefined);
  }, { timeoutMs: cfg.drainTimeoutMs });
}

main().catch((err) => exitOnStartError('tiering', err));
