import { fileURLToPath } from 'node:url';
import type { EventLimits, ScopePolicy } from '@farmbrain/contracts';
import { loadArchiveConfig, type ArchiveStoreConfig } from '@farmbrain/archive';
import { loadLifecyclePolicy, type LifecyclePolicy } from '@farmbrain/lifecycle';
import { loadCommonConfig, loadEmbedConfig, loadEventLimits, loadScopePolicy, loadSummaryConfig, readers, type CommonConfig, type EmbedConfig, type Env, type SummaryConfig } from '@farmbrain/platform';

export interface GatewayConfig extends CommonConfig {
  host: string;
  port: number;
  /** Most events one POST /v1/events may carry. */
  maxEventsPerRequest: number;
  bodyLimitBytes: number;
  limits: EventLimits;
  /** Who may write shared memories (checked before publishing; ingest enforces it too). */
  scopes: ScopePolicy;
  /** Query embeddings: must be the model tiering embeds memories with. */
  embeddings: EmbedConfig;
  /** Tiering's projection name, whose checkpoints consistency tokens and the index follow. */
  projection: string;
  /** Longest a read carrying a consistency token waits for its write. */
  consistencyTimeoutMs: number;
  /** How often the vector index polls the memories change feed. */
  indexPollMs: number;
  /** Seconds a recalled memory stays in the Redis hot tier. */
  hotMemoryTtlSeconds: number;
  /** Most memories recall's text-only candidate search looks at before ranking (bounds its cost). */
  recallTextScanCap: number;
  /** How many decisions and memories tiering keeps per agent in the hot tier (the same settings as tiering's). */
  hotDecisions: number;
  hotMemories: number;
  /** The archive (FB_ARCHIVE_URL): records in the archive tier are read from it. Unset: they answer 503 ARCHIVE_UNAVAILABLE. */
  archive: ArchiveStoreConfig | undefined;
  /** The lifecycle policies (as tiering runs them): explain says what they do next to a record; recall applies memory decay when it is on. */
  lifecycle: LifecyclePolicy;
  /** FB_SUMMARY_*: an OpenAI-compatible chat endpoint that writes consolidated memories' summaries (unset: the most representative text is kept). */
  summary: SummaryConfig;
  /** The built dashboard served at `/` (FB_DASHBOARD_DIR; default: the repository's apps/dashboard/dist/web). */
  dashboardDir: string;
  /**
   * The live feed (GET /v1/feed): most clients at once, items kept for resuming clients, most canonical messages a resuming
   * client is replayed from the stream, unsent bytes before a client is dropped. Each has an upper bound, so clients × what
   * one may hold stays bounded.
   */
  feed: { maxClients: number; bufferSize: number; maxReplay: number; maxBufferedBytes: number; heartbeatMs: number; metricsMs: number };
}

/** The dashboard's build output, from this file's place in the repository (services/gateway/dist/config.js). */
const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../apps/dashboard/dist/web', import.meta.url));

export function loadConfig(env: Env): GatewayConfig {
  const r = readers(env);
  return {
    ...loadCommonConfig(env),
    host: r.str('FB_GATEWAY_HOST', '127.0.0.1'),
    port: r.int('FB_GATEWAY_PORT', 8080, 0, 65535),
    maxEventsPerRequest: r.int('FB_GATEWAY_MAX_EVENTS', 1000, 1, 100_000),
    bodyLimitBytes: r.int('FB_GATEWAY_BODY_LIMIT', 8 * 1024 * 1024, 1024),
    limits: loadEventLimits(env),
    scopes: loadScopePolicy(env),
    embeddings: loadEmbedConfig(env),
    projection: r.str('FB_TIERING_PROJECTION', 'tiering.v1'),
    consistencyTimeoutMs: r.int('FB_CONSISTENCY_TIMEOUT_MS', 5000, 0, 600_000),
    indexPollMs: r.int('FB_INDEX_POLL_MS', 25, 1, 60_000),
    hotMemoryTtlSeconds: r.int('FB_HOT_MEMORY_TTL_S', 3600, 1, 30 * 86400),
    recallTextScanCap: r.int('FB_RECALL_TEXT_SCAN_CAP', 1000, 0, 1_000_000),
    hotDecisions: r.int('FB_HOT_DECISIONS', 50, 10, 10_000),
    hotMemories: r.int('FB_HOT_MEMORIES', 100, 10, 100_000),
    archive: archiveOf(env),
    lifecycle: loadLifecyclePolicy(env),
    summary: loadSummaryConfig(env),
    dashboardDir: r.str('FB_DASHBOARD_DIR', DEFAULT_DASHBOARD_DIR),
    feed: {
      maxClients: r.int('FB_FEED_MAX_CLIENTS', 200, 1, 100_000),
      bufferSize: r.int('FB_FEED_BUFFER', 2000, 10, 100_000),
      maxReplay: r.int('FB_FEED_MAX_REPLAY', 10_000, 0, 1_000_000),
      maxBufferedBytes: r.int('FB_FEED_MAX_BUFFERED_BYTES', 1024 * 1024, 16 * 1024, 64 * 1024 * 1024),
      heartbeatMs: r.int('FB_FEED_HEARTBEAT_MS', 15_000, 100, 3_600_000),
      metricsMs: r.int('FB_FEED_METRICS_MS', 2000, 100, 3_600_000),
    },
  };
}

function archiveOf(env: Env): ArchiveStoreConfig | undefined {
  const a = loadArchiveConfig(env);
  return a.configured ? a.store : undefined;
}
