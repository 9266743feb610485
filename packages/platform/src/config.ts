import { readFileSync } from 'node:fs';
import { defaultEventLimits, FarmbrainError, NAMESPACE_PATTERN, parseScopePolicy, type EventLimits, type ScopePolicy } from '@farmbrain/contracts';
import { defaultStreamSettings, type StreamSettings } from './nats.js';
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
  /** JetStream stream settings (deployment-wide). */
  streams: StreamSettings;
  natsUrl: string;
  redisUrl: string;
  databaseUrl: string;
  /** Prefix of every stream, subject, key and the Postgres schema. */
  namespace: string;
  /** Number of partitions of the subject space. Fixed for the life of a namespace. */
  partitions: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export const COMMON_DEFAULTS: Omit<CommonConfig, 'streams'> = {
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
    streams: loadStreamSettings(env),
    natsUrl: r.str('NATS_URL', d.natsUrl),
    redisUrl: r.str('REDIS_URL', d.redisUrl),
    databaseUrl: r.str('DATABASE_URL', d.databaseUrl),
    namespace,
    partitions: r.int('FB_PARTITIONS', d.partitions, 1, 1024),
    logLevel: r.oneOf('LOG_LEVEL', d.logLevel, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  };
}

/** Where a worker service's ops endpoint (/healthz, /readyz) listens. */
export interface OpsConfig {
  host: string;
  /** 0 = any free port. */
  port: number;
}

/**
 * The ops endpoint of `service`: `FB_<SERVICE>_OPS_PORT`, else `FB_OPS_PORT`
 * (one setting for every service, e.g. 0 in tests), else the service's default.
 */
export function loadOpsConfig(env: Env, service: string, defaultPort: number): OpsConfig {
  const r = readers(env);
  const shared = r.int('FB_OPS_PORT', defaultPort, 0, 65535);
  return {
    host: r.str('FB_OPS_HOST', '127.0.0.1'),
    port: r.int(`FB_${service.toUpperCase()}_OPS_PORT`, shared, 0, 65535),
  };
}

/**
 * Stream settings are deployment-wide: every service provisions (creates or
 * updates) the streams, so all must read the same values.
 */
export function loadStreamSettings(env: Env): StreamSettings {
  const r = readers(env);
  const s = defaultStreamSettings();
  return {
    replicas: r.int('FB_STREAM_REPLICAS', s.replicas, 1, 5),
    duplicateWindowMs: r.int('FB_DUPLICATE_WINDOW_MS', s.duplicateWindowMs, 1000),
    ingressMaxAgeMs: r.int('FB_INGRESS_MAX_AGE_MS', s.ingressMaxAgeMs, 60_000),
    deadLetterMaxAgeMs: r.int('FB_DLQ_MAX_AGE_MS', s.deadLetterMaxAgeMs, 60_000),
  };
}

/** Event limits: enforced by ingest, and checked early by the gateway with the same values. */
export function loadEventLimits(env: Env): EventLimits {
  const r = readers(env);
  const l = defaultEventLimits();
  return {
    maxEventBytes: r.int('FB_MAX_EVENT_BYTES', l.maxEventBytes, 1024, 64 * 1024 * 1024),
    maxCheckpointBytes: r.int('FB_MAX_CHECKPOINT_BYTES', l.maxCheckpointBytes, 0, 64 * 1024 * 1024),
    maxTextChars: r.int('FB_MAX_TEXT_CHARS', l.maxTextChars, 1),
    maxTags: r.int('FB_MAX_TAGS', l.maxTags, 0),
    maxVectorDims: r.int('FB_MAX_VECTOR_DIMS', l.maxVectorDims, 1),
    maxFutureSkewMs: r.int('FB_MAX_FUTURE_SKEW_MS', l.maxFutureSkewMs, 0),
    maxPastSkewMs: r.int('FB_MAX_PAST_SKEW_MS', l.maxPastSkewMs, 0),
  };
}

/**
 * Who may write shared (team, fleet) memories: FB_SCOPE_POLICY (inline JSON) or
 * FB_SCOPE_POLICY_FILE (a JSON file). ingest enforces it; the gateway checks it
 * early so HTTP callers get a 403 instead of a dead-lettered write.
 */
export function loadScopePolicy(env: Env): ScopePolicy {
  const inline = env.FB_SCOPE_POLICY ?? '';
  const file = env.FB_SCOPE_POLICY_FILE ?? '';
  if (inline !== '' && file !== '') throw new ConfigError('set FB_SCOPE_POLICY or FB_SCOPE_POLICY_FILE, not both');
  let text = inline;
  let source = 'FB_SCOPE_POLICY';
  if (file !== '') {
    source = `FB_SCOPE_POLICY_FILE=${file}`;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`${source} cannot be read: ${(err as Error).message}`);
    }
  }
  try {
    return parseScopePolicy(text, source);
  } catch (err) {
    if (err instanceof FarmbrainError) throw new ConfigError(err.message);
    throw err;
  }
}
