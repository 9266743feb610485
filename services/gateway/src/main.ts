import { jetstream } from '@nats-io/jetstream';
import { analyticsSchema } from '@farmbrain/analytics';
import { openArchiveStore } from '@farmbrain/archive';
import { nextMove } from '@farmbrain/lifecycle';
import { names as makeNames } from '@farmbrain/contracts';
import {
  createEmbedder,
  createSummarizer,
  MemoryKeys,
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
import { ProjectionRegistry, type ProjectionVersion } from '@farmbrain/projection';
import { IndexSync, VectorIndex } from '@farmbrain/recall';
import { HotView } from '@farmbrain/store';
import { buildApp } from './app.js';
import { AnalyticsReads } from './analytics/analyticsReads.js';
import { FeedHub } from './feed/feedHub.js';
import { MemoryHealthReader } from './read/memoryHealth.js';
import { following } from './live/following.js';
import { LiveVersion } from './live/liveVersion.js';
import { loadConfig } from './config.js';
import { AgentDirectory } from './read/agentDirectory.js';
import { AgentStateReader } from './read/agentState.js';
import { DeadLetterStore } from './deadLetters/deadLetterStore.js';
import { ReadStore } from './read/readStore.js';
import type { ExplainSubject } from './read/recordReader.js';
import { EventWriter } from './write/eventsIn.js';
import { consolidationHook, lifecycleOps } from './lifecycle/ops.js';
import { MemoryService } from './memory/memoryService.js';

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
  const js = jetstream(nc);
  const writer = new EventWriter(js, n, cfg.limits);
  const embedder = createEmbedder(cfg.embeddings);
  const registry = await retryUntil('projection registry', () => ProjectionRegistry.open(nc, n), { log, stopped: () => stopping });
  // Erasure destroys memory keys; consolidation may summarize with a chat model.
  const keys = await retryUntil('memory key bucket', () => MemoryKeys.open(nc, n.keysBucket), { log, stopped: () => stopping });
  const summarizer = createSummarizer(cfg.summary);

  /** The stores of one version of tiering's projection (its schema and key prefix): what every read route uses. */
  const archiveStore = cfg.archive ? openArchiveStore(cfg.archive) : undefined;
  const explainNext = (r: ExplainSubject) => {
    const m = nextMove(cfg.lifecycle, { kind: r.kind, tier: r.tier, occurredAt: r.occurredAt ? Date.parse(r.occurredAt) : null, legalHold: r.legalHold });
    return m && { toTier: m.toTier, policy: m.policy, at: m.at === null ? null : new Date(m.at).toISOString(), reason: m.reason };
  };
  const openStores = (v: ProjectionVersion) => {
    const pool = createPool(cfg.databaseUrl, v.schema, { max: 10, name: 'farmbrain-gateway', connectTimeoutMs: 2000 });
    const index = new VectorIndex();
    const sync = new IndexSync(pool, index, {
      projection: v.name, partitions: n.partitions, log, pollMs: cfg.indexPollMs, consistencyTimeoutMs: cfg.consistencyTimeoutMs,
      ingressHead: async () => (await (await manager()).streams.info(n.ingressStream)).state.last_seq,
    });
    // One directory of known agents (a small cache) for every read.
    const agents = new AgentDirectory(pool);
    const hot = new HotView(redis, v.redisPrefix, { decisions: cfg.hotDecisions, memories: cfg.hotMemories });
    // Reads across tiers (warm rows, cold and archive blocks): also where a moved decision's context is read from.
    const reads = new ReadStore(pool, new AgentStateReader(pool, hot, log), agents, { ...(archiveStore ? { archive: archiveStore } : {}), nextMove: explainNext });
    const memory = new MemoryService({
      records: { record: (id: string) => reads.record(id) },
      pool, redis, names: n, redisPrefix: v.redisPrefix, writer, index, sync, embedder, scopes: cfg.scopes, log, hotTtlSeconds: cfg.hotMemoryTtlSeconds, pinnedTtlSeconds: cfg.lifecycle.memory.hotIdleMinutes * 60, textScanCap: cfg.recallTextScanCap, agents,
      decay: cfg.lifecycle.memory.decay, limits: cfg.limits, erasure: { keys, js, jsm: manager }, ...(summarizer ? { summarizer } : {}),
    });
    let closed = false;
    return {
      version: v,
      stores: {
        // Records in the archive tier are read from the archive store; explain says what the policies do next.
        reads,
        // Memory health of an agent (GET /v1/agents/:agentId/memory-health): this version's memories, read only.
        health: new MemoryHealthReader(pool, agents),
        deadLetters: new DeadLetterStore({ pool, jsm: manager, js, names: n }),
        memory,
        // Tier metrics and optimize runs over this version (its schema and hot prefix); moves go on the log like the scheduler's.
        lifecycle: lifecycleOps({
          pool, js, names: n, projection: v.name, policy: cfg.lifecycle, archive: archiveStore !== undefined, hot: { redis, prefix: v.redisPrefix }, log: log.child({ component: 'optimize' }),
          consolidation: consolidationHook(pool, memory, n.partitions),
        }),
      },
      // The vector index is derived from Postgres; the migrations are tiering's: a missing table (the gateway
      // started first) or Postgres being down are waited out.
      loaded: retryUntil(`memory index load (${v.name})`, () => sync.start(), { log, stopped: () => stopping || closed }),
      close: async () => {
        closed = true;
        sync.stop();
        await pool.end().catch(() => undefined);
      },
    };
  };
  const live = new LiveVersion({ registry, service: 'tiering', firstVersion: cfg.projection, log, open: openStores });
  const first = await retryUntil('the live projection version', () => live.start(), { log, stopped: () => stopping });
  // Analytics: the analytics service's schema (rollups, alerts); the routes say ANALYTICS_UNAVAILABLE until it has run.
  const schema = analyticsSchema(n);
  const analyticsPool = createPool(cfg.databaseUrl, schema, { max: 5, name: 'farmbrain-gateway-analytics', connectTimeoutMs: 2000 });
  const analytics = new AnalyticsReads({ pool: analyticsPool, schema, jsm: manager, names: n, tierMetrics: () => live.stores.lifecycle.metrics() });
  // The live feed: one ordered consumer on the events stream for every client.
  const feed = new FeedHub({ js, jsm: manager, names: n, limits: cfg.limits, log: log.child({ component: 'feed' }), ...cfg.feed, metrics: () => analytics.snapshot() });
  const app = await buildApp({
    // The routes hold these: each use reads the live version's stores (a switch moves every later request).
    reads: following(() => live.stores.reads),
    deadLetters: following(() => live.stores.deadLetters),
    memory: following(() => live.stores.memory),
    lifecycle: following(() => live.stores.lifecycle),
    analytics: { analytics, health: following(() => live.stores.health) },
    feed,
    dashboardDir: cfg.dashboardDir,
    writer,
    partitions: n.partitions,
    readiness: () => ({ ...monitor.health.readiness(), serving: { tiering: live.name ?? cfg.projection } }),
    log,
    maxEventsPerRequest: cfg.maxEventsPerRequest,
    bodyLimitBytes: cfg.bodyLimitBytes,
  });
  onShutdown(log, async () => {
    stopping = true;
    // The feed first: it ends the open event streams, which would otherwise hold the server open.
    await feed.stop();
    await app.close();
    await analyticsPool.end().catch(() => undefined);
    await live.stop();
    await monitor.close();
    await nc.drain().catch(() => undefined);
    await redis.quit().catch(() => undefined);
  });
  feed.start();
  const address = await app.listen({ host: cfg.host, port: cfg.port });
  log.info({ address, namespace: n.namespace }, 'gateway listening');
  // The vector index loads while the gateway already answers (/readyz says memoryIndex: false, recall says SERVICE_UNAVAILABLE).
  const loaded = await first.loaded;
  monitor.health.set('memoryIndex', true);
  log.info({ ...(loaded as object), model: embedder.model, version: first.version.name }, 'memory index loaded');
  log.info('gateway ready');
}

main().catch((err) => exitOnStartError('gateway', err));
