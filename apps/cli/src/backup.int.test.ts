import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync } from 'node:zlib';
import { quoteIdent, type Pool } from '@farmbrain/platform';
import { publishSession, redisDigest, TestStack, tradingSession, waitFor } from '@farmbrain/testing';
import { sha256File, type BackupManifest } from './backup/bundle.js';

// Backup → wipe → restore through the real CLI on a real stack: the same stores, table by table, and the
// same hot state once tiering has rebuilt it; a restore that fails halfway changes nothing live.
const stack = new TestStack({ partitions: 4 });
const session = tradingSession({ agents: 8, eventsPerAgent: 120, seed: 5 });
let dir = '';


/** Every table of the schema: its row count and a digest of all its rows. */
async function storeDigest(pool: Pool, schema: string): Promise<Record<string, string>> {
  const tables = (await pool.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`, [schema])).rows;
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const r = await pool.query<{ n: number; d: string | null }>(`SELECT count(*)::int AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS d FROM ${quoteIdent(schema)}.${quoteIdent(t)} x`);
    out[t] = `${r.rows[0]!.n}:${r.rows[0]!.d ?? ''}`;
  }
  return out;
}

const stagingSchemas = async () => (await stack.pool.query<{ s: string }>(`SELECT nspname AS s FROM pg_namespace WHERE nspname LIKE $1`, [`${stack.namespace}%\\_\\_r%`])).rows.map((r) => r.s);
const hot = () => redisDigest(stack.redis, stack.names.redisPrefix);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fb-backup-'));
  await stack.connect();
  await stack.start('ingest');
  await stack.start('tiering');
});
after(async () => {
  await stack.destroy();
  await rm(dir, { recursive: true, force: true });
});

test('backup → wipe → restore: every table and the hot state come back equal, and the pipeline resumes without a duplicate', async () => {
  await publishSession(stack.js, stack.names, session.map((evs) => evs.slice(0, 80)), { perMessage: 10 });
  await stack.caughtUp();
  const before = await storeDigest(stack.pool, stack.names.pgSchema);
  assert.ok(Number(before.decisions!.split(':')[0]) > 100 && Number(before.projection_checkpoints!.split(':')[0]) >= 1, JSON.stringify(before));
  const hotBefore = await hot();
  assert.ok(hotBefore.keys > 8);

  const out = join(dir, 'b1');
  const b = await stack.cli(['backup', '--out', out, '--json']);
  assert.equal(b.code, 0, b.err);
  const summary = JSON.parse(b.out) as { rows: number; tables: number };
  assert.ok(summary.rows > 500 && summary.tables >= 10, b.out);

  // A restore while services run is refused: they would write into the stores being replaced.
  const busy = await stack.cli(['restore', out, '--json']);
  assert.equal(busy.code, 1);
  assert.match(busy.err, /SERVICES_RUNNING/);

  await stack.kill('tiering');
  await stack.kill('ingest');
  await waitFor('the instances to leave the lease bucket', async () => (await stack.cli(['restore', join(dir, 'none')])).err.includes('BACKUP_NOT_FOUND'));
  // Wipe: the schema, every hot key of the namespace, and the memory keys (as on a new NATS).
  const keysBacked = (JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as BackupManifest).keys;
  const memories = (await stack.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM memories')).rows[0]!.n;
  assert.ok(keysBacked && keysBacked.entries >= memories && memories > 0, `the bundle holds the memory keys (${keysBacked?.entries} for ${memories} memories)`);
  await stack.pool.query(`DROP SCHEMA ${quoteIdent(stack.names.pgSchema)} CASCADE`);
  for (const k of await stack.redis.keys(`${stack.names.redisPrefix}*`)) await stack.redis.del(k);
  await stack.jsm.streams.delete(`KV_${stack.names.keysBucket}`);

  const r = await stack.cli(['restore', out, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal((JSON.parse(r.out) as { memoryKeysRestored: number }).memoryKeysRestored, keysBacked.entries, 'every memory key is back');
  assert.deepEqual(await storeDigest(stack.pool, stack.names.pgSchema), before, 'every table equals what was backed up');
  assert.deepEqual(await stagingSchemas(), [], 'no staging schema is left');

  // Tiering resumes after the restored checkpoints and rebuilds the hot copies from the restored rows.
  await stack.start('ingest');
  await stack.start('tiering');
  await waitFor('the hot copies to be rebuilt', async () => JSON.stringify(await hot()) === JSON.stringify(hotBefore), 30_000);
  // The rest of the session, with its first part sent again (an outbox resending): applied once.
  await publishSession(stack.js, stack.names, session.map((evs) => evs.slice(70, 120)), { perMessage: 10 });
  await stack.caughtUp();
  const n = (await stack.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM decisions')).rows[0]!.n;
  const expected = session.flat().filter((e) => e.type === 'decision_made').length;
  assert.equal(n, expected, 'each decision once');
});

test('restore - a bundle that fails halfway leaves the live stores untouched; a live schema is replaced only when asked', async () => {
  await stack.kill('tiering');
  await stack.kill('ingest');
  const out = join(dir, 'b1');
  const live = await storeDigest(stack.pool, stack.names.pgSchema);
  await waitFor('the instances to leave the lease bucket', async () => !(await stack.cli(['restore', out])).err.includes('SERVICES_RUNNING'));

  const refused = await stack.cli(['restore', out, '--json']);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /TARGET_NOT_EMPTY/);

  // The bundle's `positions` file holds rows Postgres refuses, under a checksum that matches: the restore gets
  // past verification, loads the tables before it into staging, and fails there.
  const m = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as BackupManifest;
  const tables = m.schemas[0]!.tables;
  const idx = tables.findIndex((t) => t.table === 'positions');
  assert.ok(idx > 2, 'tables before it are loaded first');
  const bad = tables[idx]!;
  await writeFile(join(out, bad.file), brotliCompressSync(Buffer.from('not-a-uuid\tgarbage\n')));
  bad.sha256 = await sha256File(join(out, bad.file));
  await writeFile(join(out, 'manifest.json'), JSON.stringify(m));

  const failed = await stack.cli(['restore', out, '--replace', '--json']);
  assert.equal(failed.code, 1);
  const err = (JSON.parse(failed.err) as { error: { code: string; message: string } }).error;
  assert.equal(err.code, 'RESTORE_FAILED');
  const loaded = Number(/\((\d+) of \d+ tables were loaded/.exec(err.message)?.[1]);
  assert.equal(loaded, idx, `it failed at the table it names, after loading the ${idx} before it: ${err.message}`);
  assert.match(err.message, /positions/);
  assert.deepEqual(await storeDigest(stack.pool, stack.names.pgSchema), live, 'the live stores are untouched');
  assert.deepEqual(await stagingSchemas(), [], 'the staging schema was dropped');

  // Asked to replace: the backup goes in place, the schema it replaced is kept aside, not dropped.
  const b2 = join(dir, 'b2');
  assert.equal((await stack.cli(['backup', '--out', b2])).code, 0);
  const replaced = await stack.cli(['restore', b2, '--replace', '--json']);
  assert.equal(replaced.code, 0, replaced.err);
  const aside = (JSON.parse(replaced.out) as { schemas: { replacedAs: string | null }[] }).schemas[0]!.replacedAs;
  assert.ok(aside);
  assert.deepEqual(await storeDigest(stack.pool, stack.names.pgSchema), live);
  assert.deepEqual(await storeDigest(stack.pool, aside), live, 'the replaced schema is kept whole');
});
