import { jetstream } from '@nats-io/jetstream';
import { names as makeNames } from '@farmbrain/contracts';
import {
  connectNats,
  connectPostgres,
  connectRedis,
  createEmbedder,
  createLogger,
  loadEmbedConfig,
  exitOnStartError,
  jetstreamManager,
  migrate,
  onShutdown,
  PartitionWorker,
  provisionDurable,
  provisionStreams,
} from '@farmbrain/platform';
import { loadConfig } from './config.js';
import { MIGRATIONS_DIR } from './migrations.js';
import { HotStore } from './hot/hotStore.js';
import { createTieringHandler, type TieringStats } from './projector.js';
import { readCheckpoints } from './warm/warmStore.js';

/** Composition root: the only place that reads config and opens connections. */
async function main(): Promise<void> {
  const cfg = loadConfig(process.env);
  const log = createLogger('tiering', cfg.logLevel);
  const n = makeNames(cfg.namespace, cfg.partitions);
  const [nc, redis, pool] = await Promise.all([
    connectNats(cfg.natsUrl, 'farmbrain-tiering'),
    connectRedis(cfg.redisUrl, 'farmbrain-tiering'),
    connectPostgres(cfg.databaseUrl, n.pgSchema, { max: Math.min(cfg.partitions + 2, 20), name: 'farmbrain-tiering' }),
  ]);
  const applied = await migrate(pool, n.pgSchema, MIGRATIONS_DIR);
  if (applied.length > 0) log.info({ applied }, 'migrations applied');
  const jsm = await jetstreamManager(nc);
  await provisionStreams(jsm, n, cfg.streams);
  const js = jetstream(nc);
  const hot = new HotStore(redis, { prefix: n.redisPrefix, maxDecisions: cfg.hotDecisions, maxMemories: cfg.hotMemories });
  const embedder = createEmbedder(loadEmbedConfig(process.env));
  log.info({ model: embedder.model }, 'memories without an embedding are embedded with this model');
  const stats: TieringStats = { batches: 0, events: 0, skippedReplays: 0 };
  const checkpoints = await readCheckpoints(pool, cfg.projection);
  const workers: PartitionWorker[] = [];
  for (let p = 0; p < n.partitions; p++) {
    const durable = n.durable('tiering', p);
    // Delivery resumes after what was acked (Postgres and Redis both applied);
    // messages Postgres has but Redis may not are redelivered and re-applied to Redis only.
    await provisionDurable(jsm, { stream: n.eventsStream, durable, filterSubject: n.eventsFilter(p) }, checkpoints.get(p) ?? 0);
    const handle = createTieringHandler({ pool, hot, log, projection: cfg.projection, embedder }, p, stats);
    const w = new PartitionWorker({ js, stream: n.eventsStream, durable, batchSize: cfg.batchSize, log, handle });
    await w.start();
    workers.push(w);
  }
  log.info({ namespace: n.namespace, partitions: n.partitions }, 'tiering running');
  const timer = setInterval(() => log.info(stats, 'tiering stats'), 30_000).unref();
  onShutdown(log, async () => {
    clearInterval(timer);
    await Promise.all(workers.map((w) => w.stop()));
    await nc.drain();
    await Promise.all([pool.end(), redis.quit()]);
  });
}

main().catch((err) => exitOnStartError('tiering', err));
