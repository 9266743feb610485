import { jetstream } from '@nats-io/jetstream';
import { names as makeNames } from '@farmbrain/contracts';
import {
  createLogger,
  exitOnStartError,
  MemoryKeys,
  jetstreamManager,
  onShutdown,
  openNats,
  opsUrl,
  provisionStreams,
  retryUntil,
  startDependencyMonitor,
  startOpsServer,
} from '@farmbrain/platform';
import { openLeaseBucket, PartitionRunner } from '@farmbrain/projection';
import { loadConfig } from './config.js';
import { createIngestHandler, type IngestStats } from './ingest/ingester.js';
import { memorySealer } from './ingest/sealer.js';

/**
 * Composition root: the only place that reads config and opens connections.
 * It waits for NATS at start and never exits because NATS went away: the
 * partitions retry in place until it is back. Instances share the partitions
 * through leases (FB_INSTANCE_ID names each one); the canonical log itself
 * fences a stale one (ingester.ts).
 */
async function main(): Promise<void> {
  const cfg = loadConfig(process.env);
  const log = createLogger('ingest', cfg.logLevel);
  const n = makeNames(cfg.namespace, cfg.partitions);
  const nc = await openNats(cfg.natsUrl, 'farmbrain-ingest', log);
  const monitor = startDependencyMonitor({ log, nats: nc });
  const ops = await startOpsServer({ ...cfg.ops, readiness: () => monitor.health.readiness(), log });
  const jsm = await jetstreamManager(nc);
  await retryUntil('stream provisioning', () => provisionStreams(jsm, n, cfg.streams), { log });
  const js = jetstream(nc);
  const leases = await retryUntil('lease bucket', () => openLeaseBucket(nc, n.leaseBucket, cfg.runner.leaseTtlMs), { log });
  const stats: IngestStats = { messages: 0, forwardedEvents: 0, deadLettered: 0, skipped: 0, conflicts: 0, duplicates: 0 };
  // Memory content is sealed with each memory's key before it reaches the canonical log (erasure destroys the key).
  const keys = await retryUntil('memory key bucket', () => MemoryKeys.open(nc, n.keysBucket), { log });
  const ingest = createIngestHandler({ js, jsm, names: n, limits: cfg.limits, scopes: cfg.scopes, log, seal: memorySealer(keys) }, stats);
  const runner = new PartitionRunner({
    nc, js, jsm, kv: leases.kv, leaseTtlMs: leases.ttlMs, group: 'ingest', stream: n.ingressStream,
    filterSubject: (p) => n.ingressFilter(p), durable: (p) => n.durable('ingest', p), partitions: n.partitions,
    instanceId: cfg.runner.instanceId, batchSize: cfg.batchSize, log, ops: opsUrl(cfg.ops.host, ops),
    // A fresh handler per takeover: what it knows of the log is learnt from the log.
    open: async (p) => ({ handle: ingest.open(p) }),
  });
  await retryUntil('joining the ingest instances', () => runner.start(), { log });
  log.info({ namespace: n.namespace, partitions: n.partitions, instance: cfg.runner.instanceId, leaseTtlMs: leases.ttlMs, owned: runner.owned() }, 'ingest running');
  const timer = setInterval(() => log.info({ ...stats, owned: runner.owned() }, 'ingest stats'), 30_000).unref();
  onShutdown(log, async () => {
    clearInterval(timer);
    // Drains each partition (the batch in hand is published and acked) and hands the leases back.
    await runner.stop();
    ops?.close();
    await monitor.close();
    await nc.drain().catch(() => undefined);
  }, { timeoutMs: cfg.drainTimeoutMs });
}

main().catch((err) => exitOnStartError('ingest', err));
