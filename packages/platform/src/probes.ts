import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { HealthMonitor, type Probe } from './health.js';
import type { Logger } from './logger.js';
import { createPool } from './postgres.js';

export interface DependencyMonitorOptions {
  log: Logger;
  nats?: NatsConnection;
  redis?: Redis;
  /** Postgres is probed on a connection of its own, so a busy pool never reads as an outage. */
  postgres?: { url: string; schema: string; name: string };
  /** Extra probes (a service's own readiness). */
  extra?: Record<string, Probe>;
}

/**
 * A HealthMonitor over the usual dependencies of a service, started. `close()`
 * stops it and releases its Postgres connection.
 */
export function startDependencyMonitor(o: DependencyMonitorOptions): { health: HealthMonitor; close: () => Promise<void> } {
  const probes: Record<string, Probe> = {};
  const nc = o.nats;
  if (nc) probes.nats = () => (nc.isClosed() ? Promise.reject(new Error('connection closed')) : nc.flush());
  const redis = o.redis;
  // Still connecting (at start): wait for it, within the probe's bound, rather than report an outage that is not one.
  if (redis) probes.redis = async () => {
    if (redis.status === 'connecting' || redis.status === 'connect' || redis.status === 'wait') {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          redis.off('ready', done);
          resolve();
        };
        const timer = setTimeout(done, 1000);
        redis.once('ready', done);
      });
    }
    return redis.ping();
  };
  const pool = o.postgres ? createPool(o.postgres.url, o.postgres.schema, { max: 1, name: `${o.postgres.name}-health`, connectTimeoutMs: 700 }) : undefined;
  if (pool) probes.postgres = () => pool.query('SELECT 1');
  const health = new HealthMonitor({ ...probes, ...o.extra }, { log: o.log }).start();
  return {
    health,
    close: async () => {
      health.stop();
      await pool?.end().catch(() => undefined);
    },
  };
}
