import type { Logger } from './logger.js';

/**
 * Runs `close` once on SIGINT/SIGTERM, then exits. A second signal exits at once.
 * Returns a function that triggers the same shutdown from code.
 */
export function onShutdown(log: Logger, close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  const run = () => {
    closing ??= close()
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
