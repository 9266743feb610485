import { failureKind } from './failures.js';
import type { Logger } from './logger.js';

export interface RetryOptions {
  log: Logger;
  /** First delay, ms (doubles up to maxDelayMs). */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Stops retrying (rejects with the last error) once this resolves or returns true. */
  stopped?: () => boolean;
}

/**
 * Runs `fn` until it succeeds, retrying transient failures (a dependency down,
 * a timeout) with exponential backoff, and rethrowing deterministic ones at
 * once (a bad configuration, a broken migration: retrying cannot help). Logs
 * the first failure and the recovery, not every attempt.
 */
export async function retryUntil<T>(what: string, fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  let delay = o.firstDelayMs ?? 250;
  let failures = 0;
  for (;;) {
    try {
      const out = await fn();
      if (failures > 0) o.log.info({ attempts: failures + 1 }, `${what}: done after retrying`);
      return out;
    } catch (err) {
      if (failureKind(err) === 'deterministic' || o.stopped?.()) throw err;
      if (failures === 0) o.log.warn({ err: (err as Error).message }, `${what}: waiting (retrying with backoff until it succeeds)`);
      failures++;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, o.maxDelayMs ?? 5000);
    }
  }
}
