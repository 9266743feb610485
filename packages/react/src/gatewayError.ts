/**
 * A failed gateway call, with the gateway's own `code` and `message` (`{ error: { code, message } }`),
 * or GATEWAY_UNREACHABLE (status 0) when no answer came.
 */
export class GatewayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status; 0 when the gateway did not answer. */
    readonly status: number,
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'GatewayError';
  }
}

/**
 * Whether trying again later may succeed: no answer, a timeout, too many requests or a 5xx (a
 * dependency of the gateway is down). Any other 4xx says the request itself is wrong: resending it
 * cannot help.
 */
export const isRetryable = (err: unknown): boolean => {
  if (!(err instanceof GatewayError)) return true;
  return err.status === 0 || err.status === 408 || err.status === 429 || err.status >= 500;
};

/** No answer at all (as opposed to an answer saying a dependency is down). */
export const isUnreachable = (err: unknown): boolean => !(err instanceof GatewayError) || err.status === 0;

/** The error of a non-2xx answer: the gateway's code and message when the body has them. */
export function errorOfAnswer(status: number, body: unknown, what: string): GatewayError {
  const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') return new GatewayError(e.code, e.message, status, e.details);
  return new GatewayError(`HTTP_${status}`, `${what} answered HTTP ${status} without an error body: is baseUrl the farmbrain gateway?`, status);
}
