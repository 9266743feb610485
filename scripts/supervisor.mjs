/**
 * What `npm start` does when one of its services exits: plain decisions over
 * plain data, with no processes, timers or output, so they can be tested alone.
 * scripts/start.mjs does the spawning, waiting and printing.
 */

/**
 * Restart backoff: 0.5 s, 1 s, 2 s, 4 s … capped at 30 s. A service that stayed
 * up at least 60 s before it exited starts the series again at 0.5 s.
 */
export const RESTART_POLICY = Object.freeze({ firstDelayMs: 500, maxDelayMs: 30_000, resetAfterMs: 60_000 });

/** The exit code of a service that cannot start with its configuration (`exitOnStartError`). */
export const EXIT_BAD_CONFIG = 2;

/** The delay before the `n`th restart in a row (n ≥ 1). */
export function nextRestartDelay(n, policy = RESTART_POLICY) {
  return Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.max(0, n - 1));
}

/** How a process ended, for a sentence: `was killed by SIGKILL`, `exited with code 1`. */
export function describeExit({ code, signal, err }) {
  if (err) return `could not be started (${err.code ?? err.message})`;
  if (signal) return `was killed by ${signal}`;
  return `exited with code ${code}`;
}

/** `1.0 s` */
export const formatDelay = (ms) => `${(ms / 1000).toFixed(1)} s`;

/**
 * The restart bookkeeping of one service. `exited` is called once per process
 * that ends and says what to do next:
 * - `{ action: 'none' }` while the stack is stopping: nothing is restarted then;
 * - `{ action: 'stop', why }` when the service exited with EXIT_BAD_CONFIG
 *   before the stack was ready: restarting cannot help, so `npm start` stops;
 * - `{ action: 'restart', delayMs, restart }` otherwise (`restart` counts every
 *   restart of this service, `delayMs` follows RESTART_POLICY).
 */
export class Supervisor {
  #policy;
  #inARow = 0; // restarts since the service last stayed up policy.resetAfterMs
  restarts = 0;

  constructor(policy = RESTART_POLICY) {
    this.#policy = policy;
  }

  /**
   * @param {{ code: number | null, signal?: string | null, upMs: number }} exit  upMs: how long that process ran
   * @param {'starting' | 'running' | 'stopping'} phase  of the whole stack
   */
  exited(exit, phase) {
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
