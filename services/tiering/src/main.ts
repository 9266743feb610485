import { jetstream } from '@nats-io/jetstream';
import { names as makeNames } from '@farmbrain/contracts';
import {
  createEmbedder,
  createLogger,
  createPool,
  createRedis,
  exitOnStartError,
  jetstreamManager,
  loadEmbedConfig,
  migrate,
  onShutdown,
  openNats,
  PartitionWorker,
  provisionDurable,
  provisionStreams,
  retryUntil,
  startDependencyMonitor,
  startOpsServer,
} from '@farmbrain/platform';
import { HotView } from '@farmbrain/store';
import { loadConfig } from './config.js';
import { MIGRATIONS_DIR } from './migrations.js';
import { rehydrate } from './hot/rehydrate.js';
import { createTieringHandler, newTieringStats } from './projector.js';
import { readCheckpoints } from './warm/warmStore.js';

/**
 * Composition root: the only place that reads config and opens connections.
 * It never exits because a dependency is down: it waits for each at start,
 * and afterwards the partitions retry in place until it is back.
 */
async function main(): Promise<void> {
  const cfg = loadConfig(process.env);
  const log = createLogger('tiering', cfg.logLevel);
  const n = makeNames(cfg.namespace, cfg.partitions);
  const redis = createRedis(cfg.redisUrl, 'farmbrain-tiering', { commandTimeoutMs: 5000 });
  const pool = createPool(cfg.databaseUrl, n.pgSchema, { max: Math.min(cfg.partitions + 2, 20), name: 'farmbrain-tiering' });
  const nc = await openNats(cfg.natsUrl, 'farmbrain-tiering', log);
  const monitor = startDependencyMonitor({ log, nats: nc, redis, postgres: { url: cfg.databaseUrl, schema: n.pgSchema, name: 'farmbrain-tiering' } });
  const ops = await startOpsServer({ ...cfg.ops, readiness: () => monitor.health.readiness(), log });

  const applied = await retryUntil('postgres migrations', () => migrate(pool, n.pgSchema, MIGRATIONS_DIR), { log });
  if (applied.length > 0) log.info({ applied }, 'migrations applied');
  const jsm = await jetstreamManager(nc);
  await retryUntil('stream provisioning', () => provisionStreams(jsm, n, cfg.streams), { log });
  const js = jetstream(nc);
  const hot = new HotView(redis, n.redisPrefix, { decisions: cfg.hotDecisions, memories: cfg.hotMemories });
  const embedder = createEmbedder(loadEmbedConfig(process.env));
  log.info({ model: embedder.model }, 'memories without an embedding are embedded with this model');
  const stats = newTieringStats();
  const checkpoints = await retryUntil('reading checkpoints', () => readCheckpoints(pool, cfg.projection), { log });
  // Redis restarted empty (or tiering starts after it did): rebuild the lost hot copies in the
  // background. Until then readers see those agents as not hot, and read Postgres.
  let sweeping: Promise<void> | undefined;
  let again = false;
  const sweep = (): void => {
    if (sweeping) {
      again = true;
      return;
    }
    sweeping = retryUntil('rebuilding lost hot copies', () => rehydrate(pool, hot, { projection: cfg.projection, partitions: n.partitions, owned: Array.from({ length: n.partitions }, (_, p) => p), log }), { log })
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
  // The first `ready` is the start-up connection (checked below); later ones are reconnections.
  let connectedBefore = redis.status === 'ready';
  redis.on('ready', () => {
    if (connectedBefore) sweep();
    connectedBefore = true;
  });
  // Before the partitions run (so none is caught between its commit and its Redis write), bring back what Redis
  // lost while tiering was away; if Redis is not there yet, its `ready` will.
  await rehydrate(pool, hot, { projection: cfg.projection, partitions: n.partitions, owned: Array.from({ length: n.partitions }, (_, p) => p), log })
    .then((k) => void (stats.hydrated += k))
    .catch((err: unknown) => {
      log.warn({ err: (err as Error)?.message ?? String(err) }, 'hot copies not checked at start (Redis not there yet); checked once it is');
      // The check runs (retrying) in the background; the partitions' own writes wait for Redis anyway.
      sweep();
    });
  const workers: PartitionWorker[] = [];
  for (let p = 0; p < n.partitions; p++) {
    const durable = n.durable('tiering', p);
    // Delivery resumes after what was acked (Postgres and Redis both applied);
    // messages Postgres has but Redis may not are redelivered and re-applied to Redis only.
    await retryUntil(`consumer ${durable}`, () => provisionDurable(jsm, { stream: n.eventsStream, durable, filterSubject: n.eventsFilter(p) }, checkpoints.get(p) ?? 0), { log });
    const handle = createTieringHandler({ pool, hot, log, projection: cfg.projection, embedder, limits: cfg.limits, partitions: n.partitions, onHotLost: () => sweep() }, p, stats);
    const spec = { stream: n.eventsStream, durable, filterSubject: n.eventsFilter(p) };
    // Deliveries lost on the way: the durable starts over after the last applied message.
    const reset = (after: number) => provisionDurable(jsm, spec, after);
    const w = new PartitionWorker({ js, stream: n.eventsStream, durable, batchSize: cfg.batchSize, log, handle, reset });
    await retryUntil(`partition ${p}`, () => w.start(), { log });
    workers.push(w);
  }
  log.info({ namespace: n.namespace, partitions: n.partitions }, 'tiering running');
  const timer = setInterval(() => log.info(stats, 'tiering stats'), 30_000).unref();
  onShutdown(log, async () => {
    clearInterval(timer);
    await Promise.all(workers.map((w) => w.stop()));
    ops?.close();
    await monitor.close();
    await nc.drain().catch(() => undefined);
    await Promise.all([pool.end().catch(() => undefined), redis.quit().catch(() => undefined)]);
  }, { timeoutMs: cfg.drainTimeoutMs });
}

main().catch((err) => exitOnStartError('tiering', err));
