import { FarmbrainError } from '@farmbrain/contracts';

/** The backing services farmbrain depends on. */
export type Dependency = 'postgres' | 'redis' | 'nats';

const CODE_OF: Record<Dependency, string> = {
  postgres: 'POSTGRES_UNAVAILABLE',
  redis: 'REDIS_UNAVAILABLE',
  nats: 'NATS_UNAVAILABLE',
};

/**
 * A backing service did not answer (down, restarting, unreachable, timed out).
 * Transient by definition: the same call later can succeed. The gateway maps it
 * to 503 with a code naming the dependency; workers retry in place.
 */
export class DependencyUnavailableError extends FarmbrainError {
  constructor(
    readonly dependency: Dependency,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(CODE_OF[dependency], `${dependency} is unavailable (${detail}); retry shortly: farmbrain resumes by itself once it is back (GET /readyz shows what is degraded)`, options);
    this.name = 'DependencyUnavailableError';
  }
}

/** Socket-level error codes: the peer is down, restarting or unreachable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

/**
 * SQLSTATEs of a server that is going away, restarting or full: admin/crash
 * shutdown, cannot connect now (starting up), too many connections. Class 08
 * (connection exceptions) counts as a whole.
 */
const CONNECTION_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** Messages of client libraries (pg, ioredis) for a connection that went away or never came. */
const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /terminating connection/i,
  /timeout exceeded when trying to connect/i,
  /connection timeout/i,
  /is not queryable/i,
  /connection is closed/i,
  /stream isn't writeable/i,
  /command timed out/i,
  /reached the max retries per request/i,
  /the database system is (starting up|shutting down|in recovery mode|not (yet )?accepting connections)/i,
  /too many clients already/i,
  /server closed the connection unexpectedly/i,
];

/**
 * Error classes of the NATS client meaning the server (or JetStream behind it)
 * did not answer: unreachable, draining, closed, no reply in time, nothing
 * listening on the subject.
 */
const NATS_DOWN = new Set(['TimeoutError', 'NoRespondersError', 'JetStreamNotEnabled', 'ClosedConnectionError', 'DrainingConnectionError', 'ConnectionError']);

/**
 * True for a failure of the connection itself (any client: pg, ioredis, nats),
 * as opposed to a refused statement. Looks through `cause` chains (nats.js
 * wraps a no-responders in a RequestError in a JetStreamNotEnabled).
 */
export function isConnectionFailure(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isConnectionFailureItself(e)) return true;
  }
  return false;
}

function isConnectionFailureItself(err: unknown): boolean {
  if (err instanceof DependencyUnavailableError) return true;
  const e = err as { code?: unknown; message?: unknown; errno?: unknown; name?: unknown; errors?: unknown; isNoResponders?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.name === 'string' && NATS_DOWN.has(e.name)) return true;
  if (typeof e.isNoResponders === 'function' && (e as { isNoResponders(): boolean }).isNoResponders()) return true;
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || CONNECTION_STATES.has(e.code) || e.code.startsWith('08'))) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  // AggregateError from a dual-stack connect: every attempt failed.
  if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every(isConnectionFailure)) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  return CONNECTION_MESSAGES.some((re) => re.test(msg));
}

/** The SQLSTATE of a Postgres error, when the server sent one. */
export const sqlstateOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

/**
 * SQLSTATE classes that say nothing about the statement's data: the server or
 * the session is in trouble (08 connection, 53 resources, 57 operator
 * intervention such as a restart, 58 system, 40 serialization/deadlock, XX
 * internal), or the schema is not what the code expects (42: a missing table
 * after a dropped schema, a migration not yet run): an operator's problem, never
 * one event's. Retrying later can succeed.
 */
const TRANSIENT_CLASSES = new Set(['08', '53', '57', '58', '40', 'XX', '42', 'HV', 'F0']);
const TRANSIENT_STATES = new Set(['55P03', '55006', '25P03', '25P04']);

/**
 * How a failure to apply a batch should be handled.
 * - `transient`: the same work can succeed later (a dependency is down, a
 *   deadlock, a timeout): retry in place, skip nothing.
 * - `deterministic`: the data itself cannot be applied (a constraint, an
 *   encoding or type error, a value out of range, a program limit): the same
 *   event fails again on every retry, so it must be isolated and dead-lettered.
 */
export function failureKind(err: unknown): 'transient' | 'deterministic' {
  if (isConnectionFailure(err)) return 'transient';
  const state = sqlstateOf(err);
  if (state !== undefined) {
    if (TRANSIENT_STATES.has(state) || TRANSIENT_CLASSES.has(state.slice(0, 2))) return 'transient';
    return 'deterministic';
  }
  // Errors raised while building statements from one event's data (a TypeError
  // on an unexpected shape, a RangeError) fail the same way again.
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) return 'deterministic';
  return 'transient';
}
