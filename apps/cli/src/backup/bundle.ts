/**
 * A backup bundle: a directory holding manifest.json and, per table of each
 * backed-up schema, its rows as a brotli-compressed Postgres COPY text stream.
 * The manifest names every file with its size and sha256, so a bundle is
 * checked whole before a restore touches anything.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync } from 'node:zlib';
import { CliError } from '../errors.js';

export const BUNDLE_FORMAT = 'farmbrain-backup/1';

export interface TableDump {
  /** The schema's role in the deployment: `namespace` (ns schema) or a projection version's name. */
  table: string;
  /** Columns in COPY order (generated columns left out: Postgres computes them again). */
  columns: string[];
  rows: number;
  /** The file in the bundle (relative), its bytes and sha256. */
  file: string;
  bytes: number;
  sha256: string;
}

export interface SchemaDump {
  /** Where it lives in the deployment backed up. */
  schema: string;
  /** `namespace` for the namespace's own schema, else the projection version it holds (e.g. tiering.v2). */
  role: string;
  /** Migrations applied to it when the snapshot was taken (a restore applies exactly these before loading rows). */
  migrations: string[];
  tables: TableDump[];
  /** Sequences (bigserial) and their values: a restore sets them so new ids continue after the restored rows. */
  sequences: { table: string; column: string; value: number }[];
}

export interface BackupManifest {
  format: typeof BUNDLE_FORMAT;
  namespace: string;
  partitions: number;
  createdAt: string;
  /** Every schema comes from one REPEATABLE READ snapshot: checkpoints and rows agree. */
  snapshot: 'repeatable-read';
  schemas: SchemaDump[];
  /** The projection registry (NATS KV) as it was: which versions exist and which is live. */
  registry: unknown[];
  /**
   * The memory keys (NATS KV `<ns>_keys`): memory content on the log is sealed with them, so a deployment
   * rebuilt from this backup and the log needs them. Erased memories' keys are not there: they were destroyed.
   */
  keys: { file: string; entries: number; bytes: number; sha256: string } | null;
  /** Projection checkpoints per schema (for people reading the manifest; the rows are in the dump). */
  checkpoints: { schema: string; projection: string; partition: number; lastSeq: number }[];
}

export const manifestPath = (dir: string): string => join(dir, 'manifest.json');

export async function readManifest(dir: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await readFile(manifestPath(dir), 'utf8');
  } catch (err) {
    throw new CliError('BACKUP_NOT_FOUND', `no backup at ${dir} (${(err as Error).message}); give the directory farmbrain backup wrote`, { cause: err });
  }
  let m: BackupManifest;
  try {
    m = JSON.parse(text) as BackupManifest;
  } catch (err) {
    throw new CliError('BACKUP_CORRUPT', `${manifestPath(dir)} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (m.format !== BUNDLE_FORMAT) throw new CliError('BACKUP_FORMAT', `${dir} holds a '${String(m.format)}' bundle; this farmbrain reads ${BUNDLE_FORMAT}`);
  return m;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Checks every file of the bundle against the manifest (size and sha256) before anything is restored. */
export async function verifyBundle(dir: string, m: BackupManifest): Promise<void> {
  const files = [...m.schemas.flatMap((s) => s.tables), ...(m.keys ? [m.keys] : [])];
  for (const t of files) {
    const path = join(dir, t.file);
    let sum: string;
    try {
      sum = await sha256File(path);
    } catch (err) {
      throw new CliError('BACKUP_CORRUPT', `${t.file} of the backup cannot be read (${(err as Error).message}); nothing was restored`, { cause: err });
    }
    if (sum !== t.sha256) throw new CliError('BACKUP_CORRUPT', `${t.file} does not match its checksum in the manifest (sha256 ${sum.slice(0, 12)}…, expected ${t.sha256.slice(0, 12)}…); nothing was restored`);
  }
}

/** The memory keys as a bundle file holds them: brotli of `{ "<kv key>": "<base64>" }`. */
export const encodeKeys = (entries: readonly [string, Uint8Array][]): Buffer =>
  brotliCompressSync(Buffer.from(JSON.stringify(Object.fromEntries(entries.map(([k, v]) => [k, Buffer.from(v).toString('base64')])))));

export async function readKeys(dir: string, m: BackupManifest): Promise<[string, Uint8Array][]> {
  if (!m.keys) return [];
  const o = JSON.parse(brotliDecompressSync(await readFile(join(dir, m.keys.file))).toString('utf8')) as Record<string, string>;
  return Object.entries(o).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]);
}
