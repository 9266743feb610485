/**
 * What `farmbrain start` does when one of its services exits: plain decisions
 * over plain data, with no processes, timers or output, so they can be tested
 * alone. start/processes.ts does the spawning, waiting and printing.
 */

export interface RestartPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** A service that stayed up this long before it exited starts the series again. */
  resetAfterMs: number;
}

/**
 * Restart backoff: 0.5 s, 1 s, 2 s, 4 s … capped at 30 s. A service that stayed
 * up at least 60 s before it exited starts the series again at 0.5 s.
 */
export const RESTART_POLICY: Readonly<RestartPolicy> = Object.freeze({ firstDelayMs: 500, maxDelayMs: 30_000, resetAfterMs: 60_000 });

/** The exit code of a service that cannot start with its configuration (`exitOnStartError`). */
export const EXIT_BAD_CONFIG = 2;

/** The delay before the `n`th restart in a row (n ≥ 1). */
export function nextRestartDelay(n: number, policy: RestartPolicy = RESTART_POLICY): number {
  return Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.max(0, n - 1));
}

export interface ExitInfo {
  code: number | null;
  signal?: string | null;
  err?: (Error & { code?: string }) | undefined;
}

/** How a process ended, for a sentence: `was killed by SIGKILL`, `exited with code 1`. */
export function describeExit({ code, signal, err }: ExitInfo): string {
  if (err) return `could not be started (${err.code ?? err.message})`;
  if (signal) return `was killed by ${signal}`;
  return `exited with code ${code}`;
}

/** `1.0 s` */
export const formatDelay = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export type Phase = 'starting' | 'running' | 'stopping';

export type Decision =
  | { action: 'none' }
  | { action: 'stop'; why: string }
  | { action: 'restart'; delayMs: number; restart: number };

/**
 * The restart bookkeeping of one service process. `exited` is called once per
 * process that ends and says what to do next:
 * - `{ action: 'none' }` while the stack is stopping: nothing is restarted then;
 * - `{ action: 'stop', why }` when the service exited with EXIT_BAD_CONFIG
 *   before the stack was ready: restarting cannot help, so `start` stops;
 * - `{ action: 'restart', delayMs, restart }` otherwise (`restart` counts every
 *   restart of this service, `delayMs` follows RESTART_POLICY).
 */
export class Supervisor {
  readonly #policy: RestartPolicy;
  #inARow = 0; // restarts since the service last stayed up policy.resetAfterMs
  restarts = 0;

  constructor(policy: RestartPolicy = RESTART_POLICY) {
    this.#policy = policy;
  }

  /** `upMs`: how long that process ran; `phase`: of the whole stack. */
  exited(exit: { code: number | null; signal?: string | null; upMs: number }, phase: Phase): Decision {
    if (phase === 'stopping') return { action: 'none' };
    if (phase === 'starting' && exit.code === EXIT_BAD_CONFIG) {
      return { action: 'stop', why: 'its configuration is invalid (its message is above), so restarting cannot help' };
    }
    if (exit.upMs >= this.#policy.resetAfterMs) this.#inARow = 0;
    this.#inARow += 1;
    this.restarts += 1;
    return { action: 'restart', delayMs: nextRestartDelay(this.#inARow, this.#policy), restart: this.restarts };
  }
}
