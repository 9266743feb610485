import { jetstream } from '@nats-io/jetstream';
import { names as makeNames } from '@farmbrain/contracts';
import {
  createLogger,
  exitOnStartError,
  jetstreamManager,
  onShutdown,
  openNats,
  PartitionWorker,
  provisionDurable,
  provisionStreams,
  retryUntil,
  startDependencyMonitor,
  startOpsServer,
} from '@farmbrain/platform';
import { loadConfig } from './config.js';
import { createIngestHandler, type IngestStats } from './ingest/ingester.js';

/**
 * Composition root: the only place that reads config and opens connections.
 * It waits for NATS at start and never exits because NATS went away: the
 * partitions retry in place until it is back.
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
  const stats: IngestStats = { messages: 0, forwardedEvents: 0, deadLettered: 0 };
  const handle = createIngestHandler({ js, names: n, limits: cfg.limits, scopes: cfg.scopes, log }, stats);
  const workers: PartitionWorker[] = [];
  for (let p = 0; p < n.partitions; p++) {
    const durable = n.durable('ingest', p);
    await retryUntil(`consumer ${durable}`, () => provisionDurable(jsm, { stream: n.ingressStream, durable, filterSubject: n.ingressFilter(p) }), { log });
    const spec = { stream: n.ingressStream, durable, filterSubject: n.ingressFilter(p) };
    // Deliveries lost on the way: the durable starts over after the last applied message.
    const reset = (after: number) => provisionDurable(jsm, spec, after);
    const w = new PartitionWorker({ js, stream: n.ingressStream, durable, batchSize: cfg.batchSize, log, handle, reset });
    await retryUntil(`partition ${p}`, () => w.start(), { log });
    workers.push(w);
  }
  log.info({ namespace: n.namespace, partitions: n.partitions }, 'ingest running');
  const timer = setInterval(() => log.info(stats, 'ingest stats'), 30_000).unref();
  onShutdown(log, async () => {
    clearInterval(timer);
    await Promise.all(workers.map((w) => w.stop()));
    ops?.close();
    await monitor.close();
    await nc.drain().catch(() => undefined);
  }, { timeoutMs: cfg.drainTimeoutMs });
}

main().catch((err) => exitOnStartError('ingest', err));
