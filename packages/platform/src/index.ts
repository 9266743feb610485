export { ConfigError, ServiceUnavailableError, START_HINTS } from './errors.js';
export { readers, loadCommonConfig, loadStreamSettings, loadEventLimits, loadScopePolicy, COMMON_DEFAULTS } from './config.js';
export type { Env, CommonConfig } from './config.js';
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
export { connectRedis } from './redis.js';
export { connectPostgres, inTransaction, redactUrl, quoteIdent } from './postgres.js';
export type { Pool, PoolClient } from './postgres.js';
export { migrate } from './migrate.js';
export { onShutdown, exitOnStartError } from './shutdown.js';
export { hashEmbedder, openAiEmbedder, loadEmbedConfig, createEmbedder, normalize, toBytes, fromBytes } from './embed/index.js';
export type { Embedder, EmbedConfig, OpenAiEmbedderOptions } from './embed/index.js';
