/** The live projection version's stores, for the CLI commands that read or wait on them directly (not through the gateway). */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { names as makeNames } from '@farmbrain/contracts';
import { connectNats, connectPostgres, MemoryKeys, type Pool } from '@farmbrain/platform';
import { ProjectionRegistry } from '@farmbrain/projection';
import type { CliConfig } from './config.js';

export interface LiveStores {
  js: ReturnType<typeof jetstream>;
  jsm: Awaited<ReturnType<typeof jetstreamManager>>;
  names: ReturnType<typeof makeNames>;
  /** The live tiering version's schema. */
  pool: Pool;
  /** The live version's name (its checkpoints). */
  projection: string;
  keys: MemoryKeys;
}

/** Runs `fn` with the live version's stores (NATS, its Postgres schema, the memory keys), closing them after. */
export async function withLive<T>(cfg: CliConfig, fn: (x: LiveStores) => Promise<T>): Promise<T> {
  const names = makeNames(cfg.common.namespace, cfg.common.partitions);
  const nc = await connectNats(cfg.common.natsUrl, 'farmbrain-cli', { timeoutMs: 3000 });
  try {
    const registry = await ProjectionRegistry.open(nc, names);
    const reg = await registry.read('tiering', cfg.tieringProjection);
    const live = reg.versions[reg.live]!;
    const pool = await connectPostgres(cfg.common.databaseUrl, live.schema, { max: 2 });
    try {
      return await fn({ js: jetstream(nc), jsm: await jetstreamManager(nc, { timeout: 5000 }), names, pool, projection: live.name, keys: await MemoryKeys.open(nc, names.keysBucket) });
    } finally {
      await pool.end();
    }
  } finally {
    await nc.close();
  }
}
