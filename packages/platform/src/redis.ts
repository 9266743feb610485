import { Redis } from 'ioredis';
import { ServiceUnavailableError, START_HINTS } from './errors.js';

export interface RedisOptions {
  /**
   * Longest a command may take, ms. While Redis is down or unreachable every
   * command fails within this bound (never queued until it is back), so a
   * reader can fall back to Postgres and a writer retries with backoff.
   */
  commandTimeoutMs?: number;
}

/**
 * A client that connects in the background and reconnects forever. Commands
 * fail fast while it is disconnected (no offline queue), so nothing waits on
 * a Redis outage for longer than `commandTimeoutMs`.
 */
export function createRedis(url: string, name: string, opts: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    commandTimeout: opts.commandTimeoutMs ?? 1000,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
    retryStrategy: (n) => Math.min(n * 200, 2000),
  });
  // Connection errors are reported by the health monitor, once per change of state.
  redis.on('error', () => undefined);
  return redis;
}

/** Connects and pings once, failing fast with a ServiceUnavailableError when Redis is down (tests, tools). */
export async function connectRedis(url: string, name: string): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    enableAutoPipelining: true,
    retryStrategy: (n) => Math.min(n * 200, 2000),
  });
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (err) {
    redis.disconnect();
    throw new ServiceUnavailableError('redis', url, START_HINTS.redis, { cause: err });
  }
}
