import pg from 'pg';
import { ServiceUnavailableError, START_HINTS } from './errors.js';
import { DependencyUnavailableError, isConnectionFailure } from './failures.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint columns (stream sequences, producer sequences) fit in a JS number (< 2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** A connection failure becomes DependencyUnavailableError('postgres'); anything else (a refused statement) is kept. */
export const asPostgresFailure = (err: unknown): unknown =>
  isConnectionFailure(err) && !(err instanceof DependencyUnavailableError)
    ? new DependencyUnavailableError('postgres', (err as Error).message || String(err), { cause: err })
    : err;

/**
 * A pool that survives Postgres going away: a connection that dies while idle
 * or checked out (a restart: 57P01, "Connection terminated unexpectedly") is
 * dropped instead of crashing the process with an unhandled 'error' event, and
 * queries that fail because Postgres is unreachable reject with
 * DependencyUnavailableError('postgres') (code POSTGRES_UNAVAILABLE).
 */
class FarmbrainPool extends pg.Pool {
  constructor(config: pg.PoolConfig) {
    super(config);
    // Idle clients: the pool removes them; the next query reconnects.
    this.on('error', () => undefined);
    // Checked-out clients: their pending query rejects; the error event itself must not crash us.
    this.on('connect', (client) => client.on('error', () => undefined));
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    if (typeof args[args.length - 1] === 'function') return (super.query as (...a: unknown[]) => unknown)(...args);
    return ((super.query as (...a: unknown[]) => Promise<unknown>)(...args)).catch((err: unknown) => {
      throw asPostgresFailure(err);
    });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override connect(...args: any[]): any {
    if (typeof args[0] === 'function') return (super.connect as (...a: unknown[]) => unknown)(...args);
    return super.connect().catch((err: unknown) => {
      throw asPostgresFailure(err);
    });
  }
}

export interface PoolOptions {
  max?: number;
  name?: string;
  /** Longest wait for a new connection, ms (default 5000). */
  connectTimeoutMs?: number;
}

/**
 * A pool whose connections all use `schema`. Connects lazily: creating it never
 * fails, whether or not Postgres is up (services start and wait; see `connectPostgres` to fail fast).
 */
export function createPool(url: string, schema: string, opts: PoolOptions = {}): Pool {
  return new FarmbrainPool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    application_name: opts.name ?? 'farmbrain',
    // JIT only pays off for long analytic queries; ours are short and indexed, and its compile time (~30 ms) would dominate them.
    options: `-c search_path=${quoteIdent(schema)},public -c jit=off`,
  });
}

/** A pool as `createPool`, after one successful connection: fails fast (tests, tools) when Postgres is down. */
export async function connectPostgres(url: string, schema: string, opts: PoolOptions = {}): Promise<Pool> {
  const pool = createPool(url, schema, opts);
  try {
    const c = await pool.connect();
    c.release();
    return pool;
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new ServiceUnavailableError('postgres', redactUrl(url), START_HINTS.postgres, { cause: err });
  }
}

/**
 * Runs `fn` in a transaction on one pooled connection. A connection that failed
 * is destroyed rather than returned to the pool, and the failure rejects as
 * DependencyUnavailableError('postgres').
 */
export async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    if (isConnectionFailure(err)) broken = err as Error;
    else await c.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw asPostgresFailure(err);
  } finally {
    c.release(broken);
  }
}

export const redactUrl = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
export { quoteIdent };
