/**
 * `farmbrain analytics rebuild`: empties the analytics projection so that the analytics service replays the
 * whole log into it at its next start. It refuses while an analytics instance runs (the group's lease or member
 * keys exist): stop the service, rebuild, start it again. It drops `<ns>_analytics` (rollups, alerts, the
 * projection's checkpoints and claims) and deletes the durables (`analytics_v1_p<n>`), which then start from
 * the first message of the stream. Tier samples, which do not come from the log, go with the schema.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { ANALYTICS_PROJECTION, analyticsSchema } from '@farmbrain/analytics';
import { consumerGroup, names as makeNames } from '@farmbrain/contracts';
import { connectNats, connectPostgres } from '@farmbrain/platform';
import type { CliConfig } from '../config.js';
import { CliError } from '../errors.js';
import type { AnalyticsRebuildArgs, Io } from '../program.js';
import { deleteDurables, dropSchema, waitLeasesReleased } from '../versions/versionStores.js';

export async function analyticsRebuildCommand(a: AnalyticsRebuildArgs, cfg: CliConfig, io: Io): Promise<number> {
  const n = makeNames(cfg.common.namespace, cfg.common.partitions);
  const group = consumerGroup(ANALYTICS_PROJECTION);
  const schema = analyticsSchema(n);
  const nc = await connectNats(cfg.common.natsUrl, 'farmbrain-cli', { timeoutMs: 3000 });
  try {
    // An instance that just stopped hands its keys back; one that was killed leaves them until the lease TTL.
    await waitLeasesReleased(nc, n, group, a.timeoutMs, (held) => new CliError('ANALYTICS_RUNNING',
      `the analytics service still runs in namespace ${n.namespace} (${held} lease and member keys of ${group}); `
        + 'stop it first (every instance), then run farmbrain analytics rebuild again, then start it'));
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const durables = await deleteDurables(jsm, n, { name: ANALYTICS_PROJECTION });
    const pool = await connectPostgres(cfg.common.databaseUrl, n.pgSchema, { max: 1 });
    try {
      await dropSchema(pool, { schema });
    } finally {
      await pool.end().catch(() => undefined);
    }
    const result = { projection: ANALYTICS_PROJECTION, schema, durablesDeleted: durables };
    io.out(a.json ? `${JSON.stringify(result, null, 2)}\n`
      : `analytics emptied: schema ${schema} dropped, ${durables} durable(s) deleted. Start the analytics service: it replays the log from its first message.\n`);
    return 0;
  } finally {
    await nc.close().catch(() => undefined);
  }
}
