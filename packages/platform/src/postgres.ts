import pg from 'pg';
import { ServiceUnavailableError, START_HINTS } from './errors.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint columns (stream sequences, producer sequences) fit in a JS number (< 2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** A pool whose connections all use `schema`; fails fast when Postgres is down. */
export async function connectPostgres(url: string, schema: string, opts: { max?: number; name?: string } = {}): Promise<Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 5000,
    application_name: opts.name ?? 'farmbrain',
    // JIT only pays off for long analytic queries; ours are short and indexed, and its compile time (~30 ms) would dominate them.
    options: `-c search_path=${quoteIdent(schema)},public -c jit=off`,
  });
  pool.on('error', () => undefined); // idle client errors surface on the next query
  try {
    const c = await pool.connect();
    c.release();
    return pool;
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new ServiceUnavailableError('postgres', redactUrl(url), START_HINTS.postgres, { cause: err });
  }
}

export async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

export const redactUrl = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
export { quoteIdent };
