/**
 * `farmbrain backup` and `farmbrain restore`: a consistent bundle of the
 * deployment's Postgres schemas (backup/dump.ts) and a restore that never
 * touches what is live before the whole copy has succeeded (backup/load.ts).
 */
import { resolve } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { LEASE_KEYS, names as makeNames, type Names } from '@farmbrain/contracts';
import { archiveSchema } from '@farmbrain/archive';
import { connectNats, connectPostgres, connectRedis, isNotFound, MemoryKeys } from '@farmbrain/platform';
import { ProjectionRegistry, versionLocation, type ServiceVersions } from '@farmbrain/projection';
import { MIGRATIONS_DIR } from '@farmbrain/store';
import { readKeys, readManifest, verifyBundle, type SchemaDump } from '../backup/bundle.js';
import { writeBackup } from '../backup/dump.js';
import { restoreBackup } from '../backup/load.js';
import type { CliConfig } from '../config.js';
import { CliError } from '../errors.js';
import type { BackupArgs, Io, RestoreArgs } from '../program.js';
import { deleteHotKeys } from '../versions/versionStores.js';

async function withNats<T>(cfg: CliConfig, fn: (nc: NatsConnection, n: Names) => Promise<T>): Promise<T> {
  const n = makeNames(cfg.common.namespace, cfg.common.partitions);
  const nc = await connectNats(cfg.common.natsUrl, 'farmbrain-cli', { timeoutMs: 3000 });
  try {
    return await fn(nc, n);
  } finally {
    await nc.close();
  }
}

export async function backupCommand(a: BackupArgs, cfg: CliConfig, io: Io): Promise<number> {
  return withNats(cfg, async (nc, n) => {
    const registry = await ProjectionRegistry.existing(nc, n);
    const entries = (await registry?.services()) ?? [];
    const schemas = [{ schema: n.pgSchema, role: 'namespace' }];
    for (const e of entries) {
      for (const v of Object.values(e.versions)) if (v.state === 'active' && v.schema !== n.pgSchema) schemas.push({ schema: v.schema, role: v.name });
    }
    const pool0 = await connectPostgres(cfg.common.databaseUrl, n.pgSchema, { max: 1 });
    try {
      // The archive's manifest and pending messages, when this deployment runs the archive.
      if ((await pool0.query<{ s: string | null }>('SELECT to_regnamespace($1)::text AS s', [archiveSchema(n)])).rows[0]!.s !== null) schemas.push({ schema: archiveSchema(n), role: 'archive' });
    } finally {
      await pool0.end();
    }
    const dir = resolve(a.out ?? `backups/${n.namespace}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const pool = await connectPostgres(cfg.common.databaseUrl, n.pgSchema, { max: 1 });
    const started = Date.now();
    try {
      const exists = await pool.query<{ s: string | null }>('SELECT to_regnamespace($1)::text AS s', [n.pgSchema]);
      if (exists.rows[0]!.s === null) throw new CliError('NOTHING_TO_BACK_UP', `namespace ${n.namespace} has no Postgres schema yet (nothing was ever applied); check FB_NAMESPACE`);
      const keys = await MemoryKeys.open(nc, n.keysBucket);
      const m = await writeBackup(pool, { namespace: n.namespace, partitions: n.partitions, schemas, registry: entries, keys: async () => {
        const out: [string, Uint8Array][] = [];
        for await (const e of keys.entries()) out.push(e);
        return out;
      } }, dir, {
        table: (schema, table, rows, bytes) => void (a.json ? undefined : io.err(`  ${schema}.${table}: ${rows} rows, ${bytes} bytes\n`)),
      });
      const rows = m.schemas.reduce((x, s) => x + s.tables.reduce((y, t) => y + t.rows, 0), 0);
      const bytes = m.schemas.reduce((x, s) => x + s.tables.reduce((y, t) => y + t.bytes, 0), 0);
      const summary = { dir, namespace: n.namespace, schemas: m.schemas.map((s) => s.schema), tables: m.schemas.reduce((x, s) => x + s.tables.length, 0), rows, bytes, seconds: (Date.now() - started) / 1000 };
      io.out(a.json ? `${JSON.stringify(summary)}\n` : `backup of ${n.namespace} written to ${dir}: ${summary.tables} tables, ${rows} rows, ${bytes} bytes compressed (${summary.seconds.toFixed(1)} s).\nRestore it with: farmbrain restore ${dir}\n`);
      return 0;
    } finally {
      await pool.end();
    }
  });
}

export async function restoreCommand(dir: string, a: RestoreArgs, cfg: CliConfig, io: Io): Promise<number> {
  const path = resolve(dir);
  const m = await readManifest(path);
  await verifyBundle(path, m);
  return withNats(cfg, async (nc, n) => {
    if (n.partitions !== m.partitions) throw new CliError('PARTITIONS_MISMATCH', `the backup was taken with FB_PARTITIONS=${m.partitions}; this deployment has ${n.partitions}: restore with FB_PARTITIONS=${m.partitions}`);
    const running = await runningInstances(nc, n);
    if (running.length > 0) throw new CliError('SERVICES_RUNNING', `services of ${n.namespace} are running (${running.slice(0, 5).join(', ')}); stop them first (Ctrl-C farmbrain start), then restore`);
    const first = cfg.tieringProjection;
    const targetOf = (s: SchemaDump) => (s.role === 'namespace' ? n.pgSchema : s.role === 'archive' ? archiveSchema(n) : versionLocation(n, s.role, first).schema);
    const admin = await connectPostgres(cfg.common.databaseUrl, n.pgSchema, { max: 2 });
    const started = Date.now();
    try {
      const result = await restoreBackup(admin, m, path, { targetOf, replace: a.replace, databaseUrl: cfg.common.databaseUrl, migrationsDir: MIGRATIONS_DIR }, {
        table: (schema, table, rows) => void (a.json ? undefined : io.err(`  ${schema}.${table}: ${rows} rows\n`)),
      });
      // The registry as it was (each version where this namespace keeps it); the hot copies of every restored
      // version are deleted, so tiering rebuilds them from the restored rows instead of trusting older ones.
      const registry = await ProjectionRegistry.open(nc, n);
      // The memory keys the backup holds (those created since are kept): the log's memory content opens again.
      const keysRestored = await (await MemoryKeys.open(nc, n.keysBucket)).restore(await readKeys(path, m));
      const redis = await connectRedis(cfg.common.redisUrl, 'farmbrain-cli');
      let hotKeys = 0;
      try {
        for (const e of m.registry as (ServiceVersions & { service: string })[]) {
          const versions = Object.fromEntries(Object.values(e.versions).map((v) => [v.name, { ...v, ...versionLocation(n, v.name, first) }]));
          await registry.change(e.service, first, () => ({ live: e.live, versions }));
          for (const v of Object.values(versions)) hotKeys += await deleteHotKeys(redis, v);
        }
        if (m.registry.length === 0) hotKeys += await deleteHotKeys(redis, { name: first, state: 'active', createdAt: '', ...versionLocation(n, first, first) });
      } finally {
        redis.disconnect();
      }
      const summary = { dir: path, namespace: n.namespace, from: m.namespace, createdAt: m.createdAt, schemas: result.schemas, memoryKeysRestored: keysRestored, hotKeysDeleted: hotKeys, seconds: (Date.now() - started) / 1000 };
      const replaced = result.schemas.filter((s) => s.replacedAs);
      io.out(a.json ? `${JSON.stringify(summary)}\n` : [
        `restored ${m.namespace} (backup of ${m.createdAt}) into ${n.namespace}: ${result.schemas.map((s) => `${s.schema} ${s.rows} rows`).join(', ')} (${summary.seconds.toFixed(1)} s).`,
        ...replaced.map((s) => `the schema it replaced is kept as ${s.replacedAs}; drop it when you no longer need it: DROP SCHEMA "${s.replacedAs}" CASCADE`),
        'Start the services (farmbrain start): each projection resumes after its restored checkpoint, and Redis is rebuilt from Postgres.',
      ].join('\n') + '\n');
      return 0;
    } finally {
      await admin.end();
    }
  });
}

/** Instances of any service of the namespace that are alive now (their heartbeat in the lease bucket). */
async function runningInstances(nc: NatsConnection, n: Names): Promise<string[]> {
  const jsm = await jetstreamManager(nc, { timeout: 5000 });
  try {
    await jsm.streams.info(`KV_${n.leaseBucket}`);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  const kv = await new Kvm(nc).open(n.leaseBucket);
  const out: string[] = [];
  for await (const key of await kv.keys()) {
    const k = LEASE_KEYS.parse(key);
    if (!k || !('member' in k)) continue;
    const e = await kv.get(key);
    if (e && e.operation === 'PUT') out.push(`${k.group}/${k.member}`);
  }
  return out;
}
