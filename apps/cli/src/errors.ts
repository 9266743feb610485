import { FarmbrainError } from '@farmbrain/contracts';

/** Exit codes: 0 done, 1 an error, 2 a usage error (bad command line). */
export const EXIT = { ok: 0, error: 1, usage: 2 } as const;

/** A bad command line: exits 2. */
export class UsageError extends FarmbrainError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}

/** An error a command reports as is (code and a message saying what to do): exits 1. */
export class CliError extends FarmbrainError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'CliError';
  }
}

/** The exit code of an error that ended a command. */
export const exitCodeOf = (err: unknown): number => (err instanceof UsageError ? EXIT.usage : EXIT.error);

/** One short line (or a few) for stderr: `farmbrain: <message>`, with the code for scripts. */
export function describeError(err: unknown, json: boolean): string {
  const code = err instanceof FarmbrainError ? err.code : 'INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  if (json) return `${JSON.stringify({ error: { code, message } })}\n`;
  if (err instanceof UsageError) return `farmbrain: ${message}. Run with --help for the options.\n`;
  // A block (several lines, e.g. each backing service down) ends with its own `farmbrain: …` line.
  if (err instanceof FarmbrainError) return message.includes('\n') ? `${message} (${code})\n` : `farmbrain: ${message} (${code})\n`;
  return `farmbrain: unexpected error: ${err instanceof Error ? (err.stack ?? message) : message}\n`;
}
