/**
 * The CLI's configuration: the ONE place that reads the environment. Every
 * command gets what it needs from here; the services `farmbrain start` runs
 * get `childEnv` (this environment, as it was).
 */
import { resolve } from 'node:path';
import {
  loadCommonConfig,
  loadOpsConfig,
  loadScopePolicy,
  readers,
  type CommonConfig,
  type Env,
  type OpsConfig,
} from '@farmbrain/platform';
import type { ScopePolicy } from '@farmbrain/contracts';

/** Services `farmbrain start` can run several instances of. */
export const SCALABLE = ['tiering', 'ingest', 'archive'] as const;
export type Scalable = (typeof SCALABLE)[number];

/** Default ops ports of the worker services (their own defaults). */
export const OPS_BASE_PORT: Record<Scalable, number> = { ingest: 8081, tiering: 8082, archive: 8083 };

export interface UserScopePolicy {
  policy: ScopePolicy;
  /** FB_SCOPE_POLICY_FILE made absolute (the services run in the repository root), or undefined for FB_SCOPE_POLICY. */
  file: string | undefined;
  /** The variable and value as the user set it, for messages. */
  source: string;
}

export class CliConfig {
  readonly #env: Env;
  readonly #r: ReturnType<typeof readers>;
  #common: CommonConfig | undefined;

  constructor(env: Env) {
    this.#env = Object.freeze({ ...env });
    this.#r = readers(this.#env);
  }

  /** NATS, Redis, Postgres, namespace, partitions (throws ConfigError on a bad value). */
  get common(): CommonConfig {
    this.#common ??= loadCommonConfig(this.#env);
    return this.#common;
  }

  /** Which of NATS_URL, REDIS_URL, DATABASE_URL the user set (a hint says so when one does not answer). */
  get explicitUrls(): { nats: boolean; redis: boolean; postgres: boolean } {
    const set = (k: string) => (this.#env[k] ?? '') !== '';
    return { nats: set('NATS_URL'), redis: set('REDIS_URL'), postgres: set('DATABASE_URL') };
  }

  /** Where the gateway listens: FB_GATEWAY_HOST / FB_GATEWAY_PORT. */
  get gatewayListen(): { host: string; port: number } {
    return { host: this.#r.str('FB_GATEWAY_HOST', '127.0.0.1'), port: this.#r.int('FB_GATEWAY_PORT', 8080, 1, 65535) };
  }

  /** The gateway the client commands talk to: FB_GATEWAY_URL, else FB_GATEWAY_HOST / FB_GATEWAY_PORT. */
  get gatewayUrl(): string {
    const url = this.#r.str('FB_GATEWAY_URL', '');
    if (url) return url.replace(/\/+$/, '');
    const { host, port } = this.gatewayListen;
    const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
  }

  /** The services' SIGTERM drain bound (FB_DRAIN_TIMEOUT_MS, as they read it): how long `start` waits for them to stop. */
  get drainTimeoutMs(): number {
    return this.#r.int('FB_DRAIN_TIMEOUT_MS', 10_000, 100, 600_000);
  }

  /** tiering's first projection version (FB_TIERING_PROJECTION, as the services read it): where versions start from. */
  get tieringProjection(): string {
    return this.#r.str('FB_TIERING_PROJECTION', 'tiering.v1');
  }

  /** How many processes of each scalable service `start` runs: FB_TIERING_INSTANCES, FB_INGEST_INSTANCES, FB_ARCHIVE_INSTANCES (default 1). */
  get instances(): Record<Scalable, number> {
    return {
      tiering: this.#r.int('FB_TIERING_INSTANCES', 1, 1, 32),
      ingest: this.#r.int('FB_INGEST_INSTANCES', 1, 1, 32),
      archive: this.#r.int('FB_ARCHIVE_INSTANCES', 1, 1, 32),
    };
  }

  /** The ops endpoint a single instance of `service` would use (FB_<SVC>_OPS_PORT, FB_OPS_PORT, default). */
  ops(service: Scalable): OpsConfig {
    return loadOpsConfig(this.#env, service, OPS_BASE_PORT[service]);
  }

  /** The demo fleet's speed and seed: FB_DEMO_TICK_MS, FB_DEMO_SEED; its default size FB_DEMO_AGENTS. */
  get demo(): { tickMs: number; seed: number; agents: number } {
    return {
      tickMs: this.#r.int('FB_DEMO_TICK_MS', 500, 10, 3_600_000),
      seed: this.#r.int('FB_DEMO_SEED', 42, 0, 2 ** 32 - 1),
      agents: this.#r.int('FB_DEMO_AGENTS', 6, 1, 200),
    };
  }

  /**
   * The user's scope policy when FB_SCOPE_POLICY or FB_SCOPE_POLICY_FILE is set
   * (even empty), checked as the services check it (throws ConfigError); else undefined.
   */
  get userScopePolicy(): UserScopePolicy | undefined {
    if (this.#env.FB_SCOPE_POLICY === undefined && this.#env.FB_SCOPE_POLICY_FILE === undefined) return undefined;
    const policy = loadScopePolicy(this.#env);
    const file = this.#env.FB_SCOPE_POLICY_FILE;
    return { policy, file: file ? resolve(file) : undefined, source: file ? `FB_SCOPE_POLICY_FILE=${file}` : 'FB_SCOPE_POLICY' };
  }

  /** Colors on a terminal, unless NO_COLOR; FORCE_COLOR wins. */
  color(isTTY: boolean): boolean {
    const force = this.#env.FORCE_COLOR;
    return force !== undefined ? force !== '0' : isTTY && !this.#env.NO_COLOR;
  }

  /** The environment of the services `start` runs: this one, unchanged (plus what start adds). */
  get childEnv(): Env {
    return this.#env;
  }
}

/** The configuration of this process. */
export const loadCliConfig = (env: Env = process.env): CliConfig => new CliConfig(env);
