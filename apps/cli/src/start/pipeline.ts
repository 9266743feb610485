/** Waits for the pipeline to drain before the services stop. */
import { names } from '@farmbrain/contracts';
import { connectNats, jetstreamManager } from '@farmbrain/platform';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits (up to timeoutMs) until ingest, tiering, the archive and analytics have consumed
 * everything in their streams, so the last events the fleet flushed are
 * projected (and archived) before the services stop. Returns the messages still pending.
 */
export async function waitForPipeline(natsUrl: string, namespace: string, partitions: number, timeoutMs: number): Promise<number> {
  const n = names(namespace, partitions);
  const nc = await connectNats(natsUrl, 'farmbrain-start', { timeoutMs: 2000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let left = 0;
      for (const [stream, group] of [[n.ingressStream, 'ingest_'], [n.eventsStream, 'tiering_'], [n.eventsStream, 'archive_'], [n.eventsStream, 'analytics_']] as const) {
        for await (const ci of jsm.consumers.list(stream)) {
          if (ci.name.startsWith(group)) left += ci.num_pending + ci.num_ack_pending;
        }
      }
      if (left === 0 || Date.now() > deadline) return left;
      await sleep(100);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}
