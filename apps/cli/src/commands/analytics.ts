/**
 * `farmbrain analytics rebuild`: empties the analytics projection so that the analytics service replays the
 * whole log into it at its next start. It refuses while an analytics instance runs (the group's lease or member
 * keys exist): stop the service, rebuild, start it again. It drops `<ns>_analytics` (rollups, alerts, the
 * projection's checkpoints and claims) and deletes the durables (`analytics_v1_p<n>`), which then start from
 * the first message of the stream. Tier samples, which do not come from the log, go with the schema.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { ANALYTICS_PROJECTION, analyticsSchema } from '@farmbrain/analytics';
import { consumerGroup, LEASE_KEYS, names as makeNames } from '@farmbrain/contracts';
import { connectNats, connectPostgres, isNotFound, quoteIdent } from '@farmbrain/platform';
import type { CliConfig } from '../config.js';
import { CliError } from '../errors.js';
import type { AnalyticsRebuildArgs, Io } from '../program.js';

export async function analyticsRebuildCommand(a: AnalyticsRebuildArgs, cfg: CliConfig, io: Io): Promise<number> {
  const n = makeNames(cfg.common.namespace, cfg.common.partitions);
  const group = consumerGroup(ANALYTICS_PROJECTION);
  const schema = analyticsSchema(n);
  const nc = await connectNats(cfg.common.natsUrl, 'farmbrain-cli', { timeoutMs: 3000 });
  try {
    // An instance that just stopped hands its keys back; one that was killed leaves them until the lease TTL.
    const kv = await new Kvm(nc).open(n.leaseBucket).catch(() => undefined);
    const deadline = Date.now() + a.timeoutMs;
    for (;;) {
      const held: string[] = [];
      if (kv) for await (const k of await kv.keys(LEASE_KEYS.all(group))) held.push(k);
      if (held.length === 0) break;
      if (Date.now() > deadline) {
        throw new CliError('ANALYTICS_RUNNING', `the analytics service still runs in namespace ${n.namespace} (${held.length} lease and member keys of ${group}); `
          + 'stop it first (every instance), then run farmbrain analytics rebuild again, then start it');
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    let durables = 0;
    for (let p = 0; p < n.partitions; p++) {
      try {
        await jsm.consumers.delete(n.eventsStream, n.durable(group, p));
        durables++;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const pool = await connectPostgres(cfg.common.databaseUrl, n.pgSchema, { max: 1 });
    try {
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
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
