/**
 * `farmbrain restore`: loads a bundle into fresh staging schemas, checks every
 * table's row count, and only then puts them in place, all schemas in one
 * transaction. Nothing live is dropped or changed before that transaction:
 * a restore that fails at any step drops its staging schemas and leaves the
 * deployment as it was. With `replace`, the schemas it replaces are renamed
 * aside (`<schema>__replaced_<time>`), never dropped.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import { from as copyFrom } from 'pg-copy-streams';
import { createPool, inTransaction, migrate, migrationFiles, quoteIdent, type Pool } from '@farmbrain/platform';
import { CliError } from '../errors.js';
import type { BackupManifest, SchemaDump } from './bundle.js';

export interface RestorePlan {
  /** Where each schema of the bundle goes in this deployment. */
  targetOf(s: SchemaDump): string;
  replace: boolean;
  databaseUrl: string;
  migrationsDir: string;
}

export interface RestoreProgress {
  table(schema: string, table: string, rows: number): void;
}

export interface RestoreResult {
  schemas: { schema: string; tables: number; rows: number; replacedAs: string | null }[];
}

/** How far a restore got before it failed (a fault test checks it failed where it says). */
export class RestoreFailedError extends CliError {
  constructor(readonly loadedTables: number, readonly totalTables: number, readonly failedTable: string, cause: unknown) {
    super('RESTORE_FAILED', `restore failed at table ${failedTable} (${loadedTables} of ${totalTables} tables were loaded into staging): ${(cause as Error)?.message ?? String(cause)}. The staging schemas were dropped; the live stores are untouched`, { cause });
    this.name = 'RestoreFailedError';
  }
}

export async function restoreBackup(admin: Pool, m: BackupManifest, dir: string, plan: RestorePlan, progress?: RestoreProgress): Promise<RestoreResult> {
  const known = new Set(await migrationFiles(plan.migrationsDir));
  for (const s of m.schemas) {
    const missing = s.migrations.filter((f) => !known.has(f));
    if (missing.length > 0) throw new CliError('BACKUP_NEWER', `the backup's schema ${s.schema} has migrations this farmbrain does not know (${missing.join(', ')}); restore it with the farmbrain that made it`);
  }
  // Refuse before anything is created: a target that holds data is replaced only when asked.
  for (const s of m.schemas) {
    const target = plan.targetOf(s);
    if (!plan.replace && (await holdsRows(admin, target))) {
      throw new CliError('TARGET_NOT_EMPTY', `schema ${target} already holds data; restore into an empty deployment (another FB_NAMESPACE), or pass --replace to put the backup in its place (the current schema is kept, renamed aside)`);
    }
  }
  const tag = randomBytes(3).toString('hex');
  const staged: { s: SchemaDump; staging: string; target: string }[] = [];
  const total = m.schemas.reduce((n, s) => n + s.tables.length, 0);
  let loaded = 0;
  try {
    for (const s of m.schemas) {
      const target = plan.targetOf(s);
      const staging = `${target.slice(0, 50)}__r${tag}`;
      staged.push({ s, staging, target });
      const pool = createPool(plan.databaseUrl, staging, { max: 1, name: 'farmbrain-restore' });
      try {
        await migrate(pool, staging, plan.migrationsDir, { only: new Set(s.migrations) });
        for (const t of s.tables) {
          try {
            await inTransaction(pool, async (c) => {
              // Rows a migration seeded (schema_migrations) are replaced by the backup's.
              await c.query(`TRUNCATE ${quoteIdent(staging)}.${quoteIdent(t.table)}`);
              await pipeline(
                createReadStream(join(dir, t.file)),
                createBrotliDecompress(),
                c.query(copyFrom(`COPY ${quoteIdent(staging)}.${quoteIdent(t.table)} (${t.columns.map(quoteIdent).join(', ')}) FROM STDIN`)),
              );
              const n = (await c.query<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${quoteIdent(staging)}.${quoteIdent(t.table)}`)).rows[0]!.n;
              if (Number(n) !== t.rows) throw new Error(`${Number(n)} rows loaded, the manifest says ${t.rows}`);
            });
          } catch (err) {
            throw new RestoreFailedError(loaded, total, `${s.schema}.${t.table}`, err);
          }
          loaded++;
          progress?.table(target, t.table, t.rows);
        }
        for (const q of s.sequences) {
          if (q.value > 0) await pool.query(`SELECT setval(pg_get_serial_sequence($1, $2), $3, true)`, [`${quoteIdent(staging)}.${quoteIdent(q.table)}`, q.column, q.value]);
        }
      } finally {
        await pool.end().catch(() => undefined);
      }
    }
    // Everything is loaded and counted: put it in place, all schemas at once.
    const stamp = new Date().toISOString().replace(/[-:TZ.]/g, '').slice(0, 14);
    const result: RestoreResult = { schemas: [] };
    await inTransaction(admin, async (c) => {
      for (const { s, staging, target } of staged) {
        let replacedAs: string | null = null;
        if (await schemaExists(c, target)) {
          replacedAs = `${target.slice(0, 40)}__replaced_${stamp}`;
          await c.query(`ALTER SCHEMA ${quoteIdent(target)} RENAME TO ${quoteIdent(replacedAs)}`);
        }
        await c.query(`ALTER SCHEMA ${quoteIdent(staging)} RENAME TO ${quoteIdent(target)}`);
        result.schemas.push({ schema: target, tables: s.tables.length, rows: s.tables.reduce((n, t) => n + t.rows, 0), replacedAs });
      }
    });
    return result;
  } catch (err) {
    for (const { staging } of staged) await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(staging)} CASCADE`).catch(() => undefined);
    throw err;
  }
}

const schemaExists = async (c: Pick<Pool, 'query'>, schema: string): Promise<boolean> =>
  (await c.query<{ s: string | null }>('SELECT to_regnamespace($1)::text AS s', [schema])).rows[0]!.s !== null;

/** Whether any table of the schema has a row (an empty or absent schema can be restored into). */
async function holdsRows(pool: Pool, schema: string): Promise<boolean> {
  if (!(await schemaExists(pool, schema))) return false;
  const tables = (await pool.query<{ t: string }>(
    `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'`, [schema],
  )).rows;
  for (const { t } of tables) {
    if ((await pool.query(`SELECT 1 FROM ${quoteIdent(schema)}.${quoteIdent(t)} LIMIT 1`)).rowCount) return true;
  }
  return false;
}
