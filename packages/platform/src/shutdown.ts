import type { Logger } from './logger.js';

export interface ShutdownOptions {
  /**
   * How long `close` may take before the process exits anyway (code 1), in ms.
   * Default 10 000. Exiting with work in flight is safe: what was not acked is
   * redelivered to the next process.
   */
  timeoutMs?: number;
}

/** Default bound on the drain at SIGINT/SIGTERM. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Runs `close` once on SIGINT/SIGTERM, then exits (0, or 1 when `close`
 * failed). The drain is bounded: when `close` has not finished within
 * `timeoutMs` (default 10 s) the process logs `drain timed out` and exits with
 * code 1 anyway, so a stuck connection never keeps it from stopping. A second
 * signal exits at once. Returns a function that triggers the same shutdown from code.
 */
export function onShutdown(log: Logger, close: () => Promise<void>, options: ShutdownOptions = {}): () => Promise<void> {
  const timeoutMs = options.timeoutMs ?? SHUTDOWN_TIMEOUT_MS;
  let closing: Promise<void> | undefined;
  const run = () => {
    if (closing) return closing;
    // Kept referenced on purpose: it must fire even if `close` waits on nothing that keeps the loop alive.
    if (Number.isFinite(timeoutMs)) {
      setTimeout(() => {
        log.warn({ timeoutMs }, 'drain timed out: exiting anyway (what was not acked is redelivered)');
        process.exit(1);
      }, Math.max(0, timeoutMs));
    }
    closing = close()
      .then(() => {
        log.info('stopped');
        process.exit(0);
      })
      .catch((err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
    return closing;
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (closing) process.exit(1);
      log.info({ signal: sig }, 'stopping');
      void run();
    });
  }
  return run;
}

/** Exits with a clear message when start-up fails (a missing service, bad config). */
export function exitOnStartError(service: string, err: unknown): never {
  const e = err as { code?: string; message?: string };
  process.stderr.write(`${service}: cannot start: ${e.message ?? String(err)}${e.code ? ` [${e.code}]` : ''}\n`);
  process.exit(2);
}
