import { NAMESPACE_PATTERN } from '@farmbrain/contracts';
import { ConfigError } from './errors.js';

export type Env = Record<string, string | undefined>;

/** Typed readers over an env object; each failure names the variable and what it accepts. */
export const readers = (env: Env) => ({
  str(name: string, def: string): string {
    const v = env[name];
    return v === undefined || v === '' ? def : v;
  },
  int(name: string, def: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const v = env[name];
    if (v === undefined || v === '') return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`${name}='${v}' must be an integer from ${min} to ${max}`);
    }
    return n;
  },
  bool(name: string, def: boolean): boolean {
    const v = env[name];
    if (v === undefined || v === '') return def;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    throw new ConfigError(`${name}='${v}' must be true or false`);
  },
  oneOf<T extends string>(name: string, def: T, allowed: readonly T[]): T {
    const v = env[name];
    if (v === undefined || v === '') return def;
    if (!allowed.includes(v as T)) throw new ConfigError(`${name}='${v}' must be one of ${allowed.join(', ')}`);
    return v as T;
  },
});

/** What every service shares: where the backing services are and which namespace to use. */
export interface CommonConfig {
  natsUrl: string;
  redisUrl: string;
  databaseUrl: string;
  /** Prefix of every stream, subject, key and the Postgres schema. */
  namespace: string;
  /** Number of partitions of the subject space. Fixed for the life of a namespace. */
  partitions: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export const COMMON_DEFAULTS: CommonConfig = {
  natsUrl: 'nats://127.0.0.1:4222',
  redisUrl: 'redis://127.0.0.1:6379',
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
  namespace: 'fb',
  partitions: 8,
  logLevel: 'info',
};

export function loadCommonConfig(env: Env): CommonConfig {
  const r = readers(env);
  const d = COMMON_DEFAULTS;
  const namespace = r.str('FB_NAMESPACE', d.namespace);
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new ConfigError(`FB_NAMESPACE='${namespace}' must match ${NAMESPACE_PATTERN}`);
  }
  return {
    natsUrl: r.str('NATS_URL', d.natsUrl),
    redisUrl: r.str('REDIS_URL', d.redisUrl),
    databaseUrl: r.str('DATABASE_URL', d.databaseUrl),
    namespace,
    partitions: r.int('FB_PARTITIONS', d.partitions, 1, 1024),
    logLevel: r.oneOf('LOG_LEVEL', d.logLevel, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  };
}
