import { jetstream } from '@nats-io/jetstream';
import { names as makeNames } from '@farmbrain/contracts';
import {
  connectNats,
  createLogger,
  exitOnStartError,
  jetstreamManager,
  onShutdown,
  PartitionWorker,
  provisionDurable,
  provisionStreams,
} from '@farmbrain/platform';
import { loadConfig } from './config.js';
import { createIngestHandler, type IngestStats } from './ingest/ingester.js';

/** Composition root: the only place that reads config and opens connections. */
async function main(): Promise<void> {
  const cfg = loadConfig(process.env);
  const log = createLogger('ingest', cfg.logLevel);
  const n = makeNames(cfg.namespace, cfg.partitions);
  const nc = await connectNats(cfg.natsUrl, 'farmbrain-ingest');
  const jsm = await jetstreamManager(nc);
  await provisionStreams(jsm, n, cfg.streams);
  const js = jetstream(nc);
  const stats: IngestStats = { messages: 0, forwardedEvents: 0, deadLettered: 0 };
  const handle = createIngestHandler({ js, names: n, limits: cfg.limits, scopes: cfg.scopes, log }, stats);
  const workers: PartitionWorker[] = [];
  for (let p = 0; p < n.partitions; p++) {
    const durable = n.durable('ingest', p);
    await provisionDurable(jsm, { stream: n.ingressStream, durable, filterSubject: n.ingressFilter(p) });
    const w = new PartitionWorker({ js, stream: n.ingressStream, durable, batchSize: cfg.batchSize, log, handle });
    await w.start();
    workers.push(w);
  }
  log.info({ namespace: n.namespace, partitions: n.partitions }, 'ingest running');
  const timer = setInterval(() => log.info(stats, 'ingest stats'), 30_000).unref();
  onShutdown(log, async () => {
    clearInterval(timer);
    await Promise.all(workers.map((w) => w.stop()));
    await nc.drain();
  });
}

main().catch((err) => exitOnStartError('ingest', err));
