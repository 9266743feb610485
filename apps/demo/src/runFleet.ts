/**
 * The fleet on its own, until told to stop: starts it, stops it (flattening,
 * flushing) on SIGINT or SIGTERM or an abort signal; a second signal exits at once.
 */
import { configFromEnv, ConfigError, type DemoConfig, type Env } from './config.js';
import { errorMessage } from './format.js';
import type { Log } from './ports.js';
import { demoScopePolicy } from './roster.js';
import { startDemoFleet, type DemoFleet } from './startDemoFleet.js';

export interface RunFleetOptions {
  /** Where the settings not given come from. Default process.env. */
  env?: Env;
  /** Default console.log. */
  log?: Log;
  /** Default console.error. */
  error?: Log;
  /** Stops the fleet when aborted. */
  signal?: AbortSignal;
  /** Stop on SIGINT / SIGTERM (a second one exits the process with 1). Default true. */
  handleSignals?: boolean;
}

const NATS_HINT = 'Start it with: nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server &';

/**
 * Runs the fleet with `config` (settings left out come from the environment,
 * see config.ts; a key given as undefined means unset, e.g. `gateway: undefined`
 * reads nothing back) until a signal; resolves with the exit code: 0 after a
 * clean stop, 1 when the configuration is bad, the fleet cannot start, or its stop fails.
 */
export async function runFleet(config: Partial<DemoConfig> = {}, opts: RunFleetOptions = {}): Promise<number> {
  const log = opts.log ?? console.log;
  const error = opts.error ?? console.error;
  let c: DemoConfig;
  try {
    c = { ...configFromEnv(opts.env ?? process.env), ...config };
  } catch (err) {
    error(`demo-fleet: ${errorMessage(err)}`);
    return 1;
  }
  if (!c.scopePolicy) {
    log(`demo-fleet: for shared memories, run ingest and the gateway with FB_SCOPE_POLICY='${JSON.stringify(demoScopePolicy(c.agents))}'`);
  }
  if (opts.signal?.aborted) return 0;
  let fleet: DemoFleet;
  try {
    fleet = await startDemoFleet({ ...c, log });
  } catch (err) {
    error(`demo-fleet: cannot start: ${errorMessage(err)}`);
    const code = err !== null && typeof err === 'object' && 'code' in err ? String(err.code) : '';
    if (!(err instanceof ConfigError) && /connect|ECONNREFUSED|timeout/i.test(errorMessage(err) + code)) {
      error(`NATS is not reachable at ${c.natsUrl}. ${NATS_HINT}`);
    }
    return 1;
  }
  const running = fleet;
  return new Promise<number>((resolve) => {
    let signals = 0;
    const handled: NodeJS.Signals[] = opts.handleSignals === false ? [] : ['SIGINT', 'SIGTERM'];
    const stop = (why: string): void => {
      if (++signals > 1) process.exit(1);
      log(`demo-fleet: ${why}: stopping (flushing)...`);
      running.stop().then(() => finish(0), (err: unknown) => {
        error(`demo-fleet: stop failed: ${errorMessage(err)}`);
        finish(1);
      });
    };
    const onSignal = (sig: NodeJS.Signals): void => stop(sig);
    const onAbort = (): void => stop('aborted');
    const finish = (code: number): void => {
      for (const sig of handled) process.off(sig, onSignal);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(code);
    };
    for (const sig of handled) process.on(sig, onSignal);
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
