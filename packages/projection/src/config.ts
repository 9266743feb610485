import { hostname } from 'node:os';
import { readers, type Env } from '@farmbrain/platform';

export interface RunnerConfig {
  /** This process's name among the instances of its service (lease owner, status). */
  instanceId: string;
  /**
   * How long a partition lease lives without renewal, ms: a dead instance's
   * partitions are taken over within about this plus one renewal interval
   * (a third of it). The lease bucket is created with it; an existing bucket's
   * TTL wins (every instance of a namespace must agree).
   */
  leaseTtlMs: number;
}

/** An instance id safe in NATS KV keys and consumer names. */
export const safeInstanceId = (s: string): string => s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'instance';

export function loadRunnerConfig(env: Env, service: string): RunnerConfig {
  const r = readers(env);
  return {
    instanceId: safeInstanceId(r.str('FB_INSTANCE_ID', `${service}-${hostname()}-${process.pid}`)),
    leaseTtlMs: r.int('FB_LEASE_TTL_MS', 6000, 1000, 300_000),
  };
}
