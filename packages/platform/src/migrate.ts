import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pool } from './postgres.js';
import { quoteIdent } from './postgres.js';
import { fnv1a32 } from '@farmbrain/contracts';

/** The migration files of `dir`, in the order they apply. */
export async function migrationFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
}

/**
 * Applies `NNN_name.sql` files from `dir` in order, once each, inside `schema`.
 * Serialized by an advisory lock, so services starting together do not race.
 * `only`: apply just these (a restore brings a schema to the migrations of its backup).
 */
export async function migrate(pool: Pool, schema: string, dir: string, { only }: { only?: ReadonlySet<string> } = {}): Promise<string[]> {
  const files = (await migrationFiles(dir)).filter((f) => !only || only.has(f));
  const c = await pool.connect();
  const applied: string[] = [];
  try {
    await c.query('SELECT pg_advisory_lock($1)', [fnv1a32(`migrate:${schema}`)]);
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await c.query(`SET search_path TO ${quoteIdent(schema)}, public`);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await c.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    for (const f of files) {
      if (done.has(f)) continue;
      const sql = await readFile(join(dir, f), 'utf8');
      await c.query('BEGIN');
      try {
        await c.query(sql);
        await c.query('INSERT INTO schema_migrations (name) VALUES ($1)', [f]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK');
        throw new Error(`migration ${f} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(f);
    }
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [fnv1a32(`migrate:${schema}`)]).catch(() => undefined);
    c.release();
  }
  return applied;
}
