import type { Logger } from './logger.js';

export interface EveryOptions {
  log: Logger;
  /** What runs, for the log line when a run fails ('alert evaluation'). */
  name: string;
  /** Delay before the first run, ms (default: the first interval). */
  firstDelayMs?: number;
}

export interface Every<A, T> {
  /** Runs now, after any run in progress (runs never overlap, the timer's included); rejects when the run fails. */
  run(arg?: A): Promise<T>;
  /** Stops the timer and waits for a run in progress (run() still works after, for tests and drains). */
  stop(): Promise<void>;
  /** Whether stop() was called: a long run can check it between steps. */
  readonly stopped: boolean;
}

/**
 * A serialized timer loop: runs `fn` every interval, never two at once (a run
 * asked for with run() waits for the one in progress, and the timer's next run
 * waits for it), and never piles runs up: the next is scheduled when the
 * previous one ends. A run that fails is logged and the next interval tries
 * again. `intervalMs` may be a function: the delay before each next run, asked
 * when the previous one ends (e.g. the time to the next whole interval).
 * Timers are unref'd: the loop never keeps a process alive.
 */
export function every<T, A = undefined>(intervalMs: number | (() => number), fn: (arg: A | undefined) => Promise<T>, o: EveryOptions): Every<A, T> {
  const delay = typeof intervalMs === 'function' ? intervalMs : () => intervalMs;
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const run = (arg?: A): Promise<T> => {
    const r = chain.then(() => fn(arg));
    chain = r.catch(() => undefined);
    return r;
  };
  const tick = (): void => {
    timer = undefined;
    if (stopped) return;
    run()
      .catch((err: unknown) => o.log.error({ err }, `${o.name} failed; trying again next interval`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, Math.max(0, delay())).unref();
      });
  };
  timer = setTimeout(tick, Math.max(0, o.firstDelayMs ?? delay())).unref();
  return {
    run,
    get stopped() {
      return stopped;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await chain;
    },
  };
}
