import { jetstream } from '@nats-io/jetstream';
import { names as makeNames } from '@farmbrain/contracts';
import {
  createEmbedder,
  createLogger,
  createPool,
  createRedis,
  exitOnStartError,
  jetstreamManager,
  onShutdown,
  openNats,
  provisionStreams,
  retryUntil,
  startDependencyMonitor,
} from '@farmbrain/platform';
import { HotView } from '@farmbrain/store';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { AgentDirectory } from './read/agentDirectory.js';
import { AgentStateReader } from './read/agentState.js';
import { DeadLetterStore } from './deadLetters/deadLetterStore.js';
import { ReadStore } from './read/readStore.js';
import { EventWriter } from './write/eventsIn.js';
import { IndexSync } from './memory/indexSync.js';
import { MemoryService } from './memory/memoryService.js';
import { VectorIndex } from './memory/vectorIndex.js';

/**
 * Composition root: the only place that reads config and opens connections.
 * The gateway listens as soon as it can and never exits because a dependency
 * went away: /readyz says what is degraded, reads fall back across tiers, and
 * what needs a missing dependency answers 503 with a code naming it.
 */
async function main(): Promise<void> {
  const cfg = loadConfig(process.env);
  const log = createLogger('gateway', cfg.logLevel);
  const n = makeNames(cfg.namespace, cfg.partitions);
  // Reads fall back to Postgres when Redis does not answer within this bound.
  const redis = createRedis(cfg.redisUrl, 'farmbrain-gateway', { commandTimeoutMs: 500 });
  const pool = createPool(cfg.databaseUrl, n.pgSchema, { max: 10, name: 'farmbrain-gateway', connectTimeoutMs: 2000 });
  const nc = await openNats(cfg.natsUrl, 'farmbrain-gateway', log);
  const monitor = startDependencyMonitor({ log, nats: nc, redis, postgres: { url: cfg.databaseUrl, schema: n.pgSchema, name: 'farmbrain-gateway' } });
  monitor.health.set('memoryIndex', false, 'loading from Postgres');
  let stopping = false;
  // One JetStream manager, made on first use (and again after a failure).
  let jsm: ReturnType<typeof jetstreamManager> | undefined;
  const manager = () => (jsm ??= jetstreamManager(nc).catch((err: unknown) => {
    jsm = undefined;
    throw err;
  }));
  void retryUntil('stream provisioning', async () => provisionStreams(await manager(), n, cfg.streams), { log, stopped: () => stopping })
    .catch((err: unknown) => log.error({ err }, 'stream provisioning failed'));
  const writer = new EventWriter(jetstream(nc), n, cfg.limits);
  const index = new VectorIndex();
  const sync = new IndexSync(pool, index, {
    projection: cfg.projection, partitions: n.partitions, log, pollMs: cfg.indexPollMs, consistencyTimeoutMs: cfg.consistencyTimeoutMs,
    ingressHead: async () => (await (await manager()).streams.info(n.ingressStream)).state.last_seq,
  });
  const embedder = createEmbedder(cfg.embeddings);
  // One directory of known agents (a small cache) for every read.
  const agents = new AgentDirectory(pool);
  const memory = new MemoryService({
    pool, redis, names: n, writer, index, sync, embedder, scopes: cfg.scopes, log, hotTtlSeconds: cfg.hotMemoryTtlSeconds, textScanCap: cfg.recallTextScanCap, agents,
  });
  const hot = new HotView(redis, n.redisPrefix, { decisions: cfg.hotDecisions, memories: cfg.hotMemories });
  const app = await buildApp({
    reads: new ReadStore(pool, new AgentStateReader(pool, hot, log), agents),
    deadLetters: new DeadLetterStore({ pool, jsm: manager, js: jetstream(nc), names: n }),
    writer,
    memory,
    readiness: () => monitor.health.readiness(),
    log,
    maxEventsPerRequest: cfg.maxEventsPerRequest,
    bodyLimitBytes: cfg.bodyLimitBytes,
  });
  onShutdown(log, async () => {
    stopping = true;
    await app.close();
    sync.stop();
    await monitor.close();
    await nc.drain().catch(() => undefined);
    await Promise.all([pool.end().catch(() => undefined), redis.quit().catch(() => undefined)]);
  });
  const address = await app.listen({ host: cfg.host, port: cfg.port });
  log.info({ address, namespace: n.namespace }, 'gateway listening');
  // The vector index is derived from Postgres; it loads while the gateway already
  // answers (/readyz says memoryIndex: false, recall says SERVICE_UNAVAILABLE).
  // The migrations are tiering's: a missing table (the gateway started first) or
  // Postgres being down are waited out.
  const loaded = await retryUntil('memory index load', () => sync.start(), { log, stopped: () => stopping });
  monitor.health.set('memoryIndex', true);
  log.info({ ...loaded, model: embedder.model }, 'memory index loaded');
  log.info('gateway ready');
}

main().catch((err) => exitOnStartError('gateway', err));
