import { Redis } from 'ioredis';
import { ServiceUnavailableError, START_HINTS } from './errors.js';

/** Connects and pings once, failing fast with a ServiceUnavailableError when Redis is down. */
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
