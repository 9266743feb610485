/**
 * The demo's configuration: defaults, the environment, the command line. The
 * one place that reads process.env-style variables:
 *
 *   NATS_URL, FB_NAMESPACE, FB_PARTITIONS        where to publish (the deployment's)
 *   FB_GATEWAY_URL (else http://FB_GATEWAY_HOST:FB_GATEWAY_PORT)   where to read
 *   FB_DEMO_AGENTS, FB_DEMO_TICK_MS, FB_DEMO_SEED   the fleet: size, speed, seed
 *   FB_SCOPE_POLICY / FB_SCOPE_POLICY_FILE       the policy the services run with
 */
import { parseArgs as parseArgv } from 'node:util';
import type { ScopePolicy } from '@farmbrain/contracts';
import { loadScopePolicy } from '@farmbrain/platform';

export interface DemoConfig {
  /** NATS server(s), comma-separated. */
  natsUrl: string;
  namespace: string;
  partitions: number;
  /** The gateway's base URL; undefined: agents record but do not read their memory back. */
  gateway: string | undefined;
  /** The policy the services run with; undefined: the demo's own (demoScopePolicy). */
  scopePolicy: ScopePolicy | undefined;
  agents: number;
  tickMs: number;
  seed: number;
}

export const DEMO_DEFAULTS = Object.freeze({
  natsUrl: 'nats://127.0.0.1:4222',
  namespace: 'fb',
  partitions: 8,
  gatewayPort: 8080,
  agents: 6,
  tickMs: 500,
  seed: 42,
});

export type Env = Readonly<Record<string, string | undefined>>;

/** A bad setting: the message names it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function integer(name: string, v: string | undefined, def: number): number {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(`${name}='${v}' must be an integer`);
  return n;
}

/** The gateway the services' environment describes: FB_GATEWAY_URL, else FB_GATEWAY_HOST (a wildcard bind means this host) and FB_GATEWAY_PORT. */
export function gatewayFromEnv(env: Env): string {
  if (env.FB_GATEWAY_URL) return env.FB_GATEWAY_URL;
  const bind = env.FB_GATEWAY_HOST;
  const host = bind && bind !== '0.0.0.0' && bind !== '::' ? bind : '127.0.0.1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${env.FB_GATEWAY_PORT || DEMO_DEFAULTS.gatewayPort}`;
}

/**
 * The policy the services run with, when the environment sets one (FB_SCOPE_POLICY
 * or FB_SCOPE_POLICY_FILE, even empty), checked as the services check it; else undefined.
 */
export function scopePolicyFromEnv(env: Env): ScopePolicy | undefined {
  if (env.FB_SCOPE_POLICY === undefined && env.FB_SCOPE_POLICY_FILE === undefined) return undefined;
  try {
    return loadScopePolicy(env);
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
}

/** The configuration the environment gives; throws ConfigError on a bad value. */
export function configFromEnv(env: Env): DemoConfig {
  return {
    natsUrl: env.NATS_URL || DEMO_DEFAULTS.natsUrl,
    namespace: env.FB_NAMESPACE || DEMO_DEFAULTS.namespace,
    partitions: integer('FB_PARTITIONS', env.FB_PARTITIONS, DEMO_DEFAULTS.partitions),
    gateway: gatewayFromEnv(env),
    scopePolicy: scopePolicyFromEnv(env),
    agents: integer('FB_DEMO_AGENTS', env.FB_DEMO_AGENTS, DEMO_DEFAULTS.agents),
    tickMs: integer('FB_DEMO_TICK_MS', env.FB_DEMO_TICK_MS, DEMO_DEFAULTS.tickMs),
    seed: integer('FB_DEMO_SEED', env.FB_DEMO_SEED, DEMO_DEFAULTS.seed),
  };
}

export const USAGE = `Usage: node apps/demo/dist/main.js [options]

Runs the demo fleet of simulated trading agents against a running farmbrain
(NATS, ingest, tiering, the gateway). Ctrl-C stops it: positions are flattened,
alerts withdrawn, events flushed.

Options (each overrides its environment variable):
  --agents N        trading agents, 1..200              FB_DEMO_AGENTS (default ${DEMO_DEFAULTS.agents})
  --gateway URL     the gateway's base URL              FB_GATEWAY_URL (default http://FB_GATEWAY_HOST:FB_GATEWAY_PORT,
                                                        i.e. http://127.0.0.1:${DEMO_DEFAULTS.gatewayPort})
  --no-gateway      record only; do not read memory back
  --nats URL        NATS server(s), comma-separated     NATS_URL (default ${DEMO_DEFAULTS.natsUrl})
  --namespace NS    the deployment's namespace          FB_NAMESPACE (default ${DEMO_DEFAULTS.namespace})
  --partitions N    the deployment's partitions         FB_PARTITIONS (default ${DEMO_DEFAULTS.partitions})
  --tick-ms N       one tick every N ms                 FB_DEMO_TICK_MS (default ${DEMO_DEFAULTS.tickMs})
  --seed N          the market's and agents' seed       FB_DEMO_SEED (default ${DEMO_DEFAULTS.seed})
  -h, --help        this text

Environment:
  FB_SCOPE_POLICY, FB_SCOPE_POLICY_FILE   the policy ingest and the gateway run with; the
                    fleet keeps private what it would refuse. Unset: the demo's own policy
                    (each team's lead writes its team's memories, risk-desk the fleet's),
                    which the services must be given too for shared memories.
`;

export type Command = { help: true } | { help: false; config: DemoConfig };

/** The command line over the environment; throws ConfigError on a bad option or value. */
export function parseCommand(argv: readonly string[], env: Env): Command {
  let values;
  try {
    ({ values } = parseArgv({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        agents: { type: 'string' },
        gateway: { type: 'string' },
        'no-gateway': { type: 'boolean' },
        nats: { type: 'string' },
        namespace: { type: 'string' },
        partitions: { type: 'string' },
        'tick-ms': { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return { help: true };
  if (values['no-gateway'] && values.gateway !== undefined) throw new ConfigError('give --gateway or --no-gateway, not both');
  const c = configFromEnv(env);
  const config: DemoConfig = {
    natsUrl: values.nats || c.natsUrl,
    namespace: values.namespace || c.namespace,
    partitions: integer('--partitions', values.partitions, c.partitions),
    gateway: values['no-gateway'] ? undefined : values.gateway || c.gateway,
    scopePolicy: c.scopePolicy,
    agents: integer('--agents', values.agents, c.agents),
    tickMs: integer('--tick-ms', values['tick-ms'], c.tickMs),
    seed: integer('--seed', values.seed, c.seed),
  };
  return { help: false, config };
}
