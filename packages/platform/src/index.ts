export { ConfigError, ServiceUnavailableError, START_HINTS } from './errors.js';
export { readers, loadOpsConfig, loadCommonConfig, loadStreamSettings, loadEventLimits, loadScopePolicy, COMMON_DEFAULTS } from './config.js';
export type { Env, CommonConfig, OpsConfig } from './config.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
export {
  connectNats,
  provisionStreams,
  provisionDurable,
  streamConfigs,
  defaultStreamSettings,
  isNotFound,
  jetstreamManager,
} from './nats.js';
export type { StreamSettings, DurableSpec } from './nats.js';
export { PartitionWorker } from './worker.js';
export type { PartitionWorkerOptions } from './worker.js';
export { connectRedis, createRedis } from './redis.js';
export type { RedisOptions } from './redis.js';
export { connectPostgres, createPool, inTransaction, redactUrl, quoteIdent, asPostgresFailure } from './postgres.js';
export type { PoolOptions } from './postgres.js';
export type { Pool, PoolClient } from './postgres.js';
export { migrate, migrationFiles } from './migrate.js';
export { onShutdown, exitOnStartError } from './shutdown.js';
export { hashEmbedder, hashEmbed, openAiEmbedder, loadEmbedConfig, createEmbedder, normalize, toBytes, fromBytes, EmbeddingsRefusedError } from './embed/index.js';
export type { Embedder, EmbedConfig, OpenAiEmbedderOptions } from './embed/index.js';
export { DependencyUnavailableError, isConnectionFailure, sqlstateOf, failureKind } from './failures.js';
export type { Dependency } from './failures.js';
export { openNats } from './connections.js';
export { retryUntil } from './retry.js';
export { every } from './every.js';
export type { Every, EveryOptions } from './every.js';
export type { RetryOptions } from './retry.js';
export { HealthMonitor } from './health.js';
export type { Probe, HealthOptions, Readiness } from './health.js';
export { startOpsServer, opsUrl } from './opsServer.js';
export type { OpsServerOptions } from './opsServer.js';
export { startDependencyMonitor } from './probes.js';
export type { DependencyMonitorOptions } from './probes.js';
export type { ShutdownOptions } from './shutdown.js';
export { chatSummarizer, createSummarizer, loadSummaryConfig, SummaryRefusedError } from './summarize/chatSummarizer.js';
export type { Summarizer, SummaryConfig } from './summarize/chatSummarizer.js';
export { openBucket } from './bucket.js';
export { MemoryKeys } from './keys/memoryKeys.js';
export { publishEvent } from './publishEvent.js';
export { eraseMemory } from './keys/eraseMemory.js';
export type { EraseRequest, Erased } from './keys/eraseMemory.js';
export { eraseEverywhere, planErasure, scrubIngress } from './keys/eraseEverywhere.js';
export type { EraseEverywhereDeps, ErasePlan, ErasedEverywhere } from './keys/eraseEverywhere.js';
