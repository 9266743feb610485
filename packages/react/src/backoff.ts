export interface BackoffOptions {
  /** First delay, ms. */
  firstMs: number;
  /** Largest delay, ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ firstMs: 1000, maxMs: 30_000 });

/** The delay before retry number `attempt` (1 = the first retry): doubling from firstMs, capped at maxMs. */
export const backoffDelay = (attempt: number, o: BackoffOptions = DEFAULT_BACKOFF): number =>
  Math.min(o.maxMs, o.firstMs * 2 ** Math.max(0, Math.min(30, attempt - 1)));
