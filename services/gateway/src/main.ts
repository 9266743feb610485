import { jetstream } from '@nats-io/jetstream';
import { names as makeNames } from '@farmbrain/contracts';
import {
  connectNats,
  connectPostgres,
  connectRedis,
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
  const app = await buildApp({
    reads: new ReadStore(pool, redis, n.redisPrefix),
    writer: new EventWriter(jetstream(nc), n, cfg.limits),
    nc,
    log,
    maxEventsPerRequest: cfg.maxEventsPerRequest,
    bodyLimitBytes: cfg.bodyLimitBytes,
  });
  const address = await app.listen({ host: cfg.host, port: cfg.port });
  log.info({ address, namespace: n.namespace }, 'gateway listening');
  onShutdown(log, async () => {
    await app.close();
    await nc.drain();
    await Promise.all([pool.end(), redis.quit()]);
  });
}

main().catch((err) => exitOnStartError('gateway', err));
