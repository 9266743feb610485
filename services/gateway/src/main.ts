import { jetstream } from '@nats-io/jetstream';
import { names as makeNames } from '@farmbrain/contracts';
import {
  connectNats,
  connectPostgres,
  connectRedis,
  createEmbedder,
  createLogger,
  exitOnStartError,
  jetstreamManager,
  onShutdown,
  provisionStreams,
} from '@farmbrain/platform';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { ReadStore } from './read/readStore.js';
import { EventWriter } from './write/eventsIn.js';
import { IndexSync } from './memory/indexSync.js';
import { MemoryService } from './memory/memoryService.js';
import { VectorIndex } from './memory/vectorIndex.js';

/** Composition root: the only place that reads config and opens connections. */
async function main(): Promise<void> {
  const cfg = loadConfig(process.env);
  const log = createLogger('gateway', cfg.logLevel);
  const n = makeNames(cfg.namespace, cfg.partitions);
  const [nc, redis, pool] = await Promise.all([
    connectNats(cfg.natsUrl, 'farmbrain-gateway'),
    connectRedis(cfg.redisUrl, 'farmbrain-gateway'),
    connectPostgres(cfg.databaseUrl, n.pgSchema, { max: 10, name: 'farmbrain-gateway' }),
  ]);
  await provisionStreams(await jetstreamManager(nc), n, cfg.streams);
  const writer = new EventWriter(jetstream(nc), n, cfg.limits);
  const index = new VectorIndex();
  const sync = new IndexSync(pool, index, {
    projection: cfg.projection, partitions: n.partitions, log, pollMs: cfg.indexPollMs, consistencyTimeoutMs: cfg.consistencyTimeoutMs,
  });
  let indexReady = false;
  const embedder = createEmbedder(cfg.embeddings);
  const memory = new MemoryService({
    pool, redis, names: n, writer, index, sync, embedder, scopes: cfg.scopes, log, hotTtlSeconds: cfg.hotMemoryTtlSeconds, textScanCap: cfg.recallTextScanCap,
  });
  const app = await buildApp({
    reads: new ReadStore(pool, redis, n.redisPrefix),
    writer,
    memory,
    ready: () => ({ memoryIndex: indexReady }),
    nc,
    log,
    maxEventsPerRequest: cfg.maxEventsPerRequest,
    bodyLimitBytes: cfg.bodyLimitBytes,
  });
  const address = await app.listen({ host: cfg.host, port: cfg.port });
  log.info({ address, namespace: n.namespace }, 'gateway listening');
  // The vector index is derived from Postgres; it loads while the gateway already
  // answers (/readyz says memoryIndex: false, recall says SERVICE_UNAVAILABLE).
  // The migrations are tiering's: wait for them when the gateway starts first.
  for (let attempt = 0; ; attempt++) {
    try {
      const loaded = await sync.start();
      log.info({ ...loaded, model: embedder.model }, 'memory index loaded');
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== '42P01' || attempt > 600) throw err;
      if (attempt === 0) log.info('waiting for tiering to create the warm store');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  indexReady = true;
  log.info('gateway ready');
  onShutdown(log, async () => {
    await app.close();
    sync.stop();
    await nc.drain();
    await Promise.all([pool.end(), redis.quit()]);
  });
}

main().catch((err) => exitOnStartError('gateway', err));
