/**
 * `farmbrain backup`: one consistent snapshot of the deployment's Postgres
 * schemas (the namespace's and every projection version's), table by table as
 * COPY streams, compressed, with checksums, plus the projection registry.
 * Redis is not in it: every hot copy is rebuilt from Postgres. The canonical log
 * is not in it either: it is in JetStream and in the archive, and the restored
 * checkpoints say where each projection resumes.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createBrotliCompress } from 'node:zlib';
import { to as copyTo } from 'pg-copy-streams';
import { quoteIdent, type Pool, type PoolClient } from '@farmbrain/platform';
import { BUNDLE_FORMAT, encodeKeys, manifestPath, type BackupManifest, type SchemaDump, type TableDump } from './bundle.js';

export interface BackupSource {
  namespace: string;
  partitions: number;
  /** Schemas to back up, with their role (`namespace`, or the version they hold). */
  schemas: { schema: string; role: string }[];
  registry: unknown[];
  /** The memory keys, read after the snapshot (a key created meanwhile seals nothing the snapshot holds). */
  keys?: () => Promise<[string, Uint8Array][]>;
}

export interface BackupProgress {
  table(schema: string, table: string, rows: number, bytes: number): void;
}

/** Writes the bundle into `dir` (created; must not hold a bundle already). Written to `<dir>.partial` first, renamed when whole. */
export async function writeBackup(pool: Pool, src: BackupSource, dir: string, progress?: BackupProgress): Promise<BackupManifest> {
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const c = await pool.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const schemas: SchemaDump[] = [];
    const checkpoints: BackupManifest['checkpoints'] = [];
    for (const { schema, role } of src.schemas) {
      schemas.push(await dumpSchema(c, schema, role, partial, progress));
      const cp = await c.query<{ projection: string; partition: number; last_seq: number }>(
        `SELECT projection, partition, last_seq FROM ${quoteIdent(schema)}.projection_checkpoints ORDER BY projection, partition`,
      ).catch(() => ({ rows: [] }));
      for (const r of cp.rows) checkpoints.push({ schema, projection: r.projection, partition: r.partition, lastSeq: Number(r.last_seq) });
    }
    await c.query('COMMIT');
    let keys: BackupManifest['keys'] = null;
    if (src.keys) {
      const entries = await src.keys();
      const bytes = encodeKeys(entries);
      const file = join('nats', 'memory-keys.json.br');
      await mkdir(join(partial, 'nats'), { recursive: true });
      await writeFile(join(partial, file), bytes);
      keys = { file, entries: entries.length, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    }
    const manifest: BackupManifest = {
      format: BUNDLE_FORMAT, namespace: src.namespace, partitions: src.partitions, createdAt: new Date().toISOString(),
      snapshot: 'repeatable-read', schemas, registry: src.registry, keys, checkpoints,
    };
    await writeFile(manifestPath(partial), `${JSON.stringify(manifest, null, 2)}\n`);
    await mkdir(dirname(dir), { recursive: true });
    await rename(partial, dir);
    return manifest;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    await rm(partial, { recursive: true, force: true });
    throw err;
  } finally {
    c.release();
  }
}

async function dumpSchema(c: PoolClient, schema: string, role: string, dir: string, progress?: BackupProgress): Promise<SchemaDump> {
  const migrations = (await c.query<{ name: string }>(`SELECT name FROM ${quoteIdent(schema)}.schema_migrations ORDER BY name`)).rows.map((r) => r.name);
  const tables = (await c.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, [schema],
  )).rows.map((r) => r.table_name);
  const out: TableDump[] = [];
  for (const table of tables) {
    const columns = (await c.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' ORDER BY ordinal_position`,
      [schema, table],
    )).rows.map((r) => r.column_name);
    const file = join(schema, `${table}.copy.br`);
    await mkdir(join(dir, schema), { recursive: true });
    const h = createHash('sha256');
    let bytes = 0;
    let rows = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x0a) rows++;
        cb(null, chunk);
      },
    });
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    const cols = columns.map(quoteIdent).join(', ');
    await pipeline(
      c.query(copyTo(`COPY ${quoteIdent(schema)}.${quoteIdent(table)} (${cols}) TO STDOUT`)),
      counter,
      createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }),
      hasher,
      createWriteStream(join(dir, file)),
    );
    out.push({ table, columns, rows, file, bytes, sha256: h.digest('hex') });
    progress?.table(schema, table, rows, bytes);
  }
  const seqs = await c.query<{ table_name: string; column_name: string; seq: string | null }>(
    `SELECT c.table_name, c.column_name, pg_get_serial_sequence(quote_ident(c.table_schema) || '.' || quote_ident(c.table_name), c.column_name) AS seq
       FROM information_schema.columns c WHERE c.table_schema = $1 AND c.column_default LIKE 'nextval(%'`, [schema],
  );
  const sequences: SchemaDump['sequences'] = [];
  for (const s of seqs.rows) {
    if (!s.seq) continue;
    const v = await c.query<{ last_value: number; is_called: boolean }>(`SELECT last_value, is_called FROM ${s.seq}`);
    const row = v.rows[0];
    if (row) sequences.push({ table: s.table_name, column: s.column_name, value: row.is_called ? Number(row.last_value) : 0 });
  }
  return { schema, role, migrations, tables: out, sequences };
}
