import type { JsMsg } from '@nats-io/jetstream';
import { decodeBatch, HEADERS } from '@farmbrain/contracts';
import { inTransaction, type Embedder, type Logger, type Pool } from '@farmbrain/platform';
import { buildHotOps, type HotStore } from './hot/hotStore.js';
import {
  applyWarm,
  readCheckpoint,
  readCheckpoints,
  readHotSnapshots,
  saveCheckpoint,
  textsToEmbed,
  type ComputedEmbeddings,
  type SeqEvent,
} from './warm/warmStore.js';

export interface ProjectorDeps {
  pool: Pool;
  hot: HotStore;
  log: Logger;
  projection: string;
  /** Embeds memories that arrive without an embedding. */
  embedder: Embedder;
}

export interface TieringStats {
  batches: number;
  events: number;
  skippedReplays: number;
}

/** A message body in the canonical stream as (stream seq, events). */
export function eventsOf(msgs: readonly Pick<JsMsg, 'seq' | 'data'>[], log: Logger): SeqEvent[] {
  const out: SeqEvent[] = [];
  for (const m of msgs) {
    try {
      for (const entry of decodeBatch(m.data)) if (entry.event) out.push({ ...entry.event, streamSeq: m.seq });
    } catch (err) {
      // ingest only forwards what decodes; anything else on the canonical stream is skipped loudly.
      log.error({ err, seq: m.seq }, 'undecodable message on the canonical stream; skipped');
    }
  }
  return out;
}

/**
 * The batch handler of one partition. Warm: one Postgres transaction applies the
 * messages above the checkpoint and moves the checkpoint. Hot: after commit,
 * Redis gets the ops of the whole batch (replayed messages included, since a
 * crash may have come between the commit and Redis), each guarded by sequence.
 * The worker acks only after both.
 */
export function createTieringHandler({ pool, hot, log, projection, embedder }: ProjectorDeps, partition: number, stats: TieringStats) {
  /** This partition's checkpoint as last committed here (read once, then tracked). */
  let applied: number | undefined;
  return async (msgs: readonly JsMsg[]): Promise<void> => {
    const events = eventsOf(msgs, log);
    const lastSeq = msgs[msgs.length - 1]!.seq;
    // The highest ingress sequence this batch covers: what read-your-writes tokens wait for.
    let ingressSeq = 0;
    for (const m of msgs) ingressSeq = Math.max(ingressSeq, Number(m.headers?.get(HEADERS.ingressSeq) ?? 0) || 0);
    // Embeddings are computed before the transaction, in one call per batch, for
    // events not yet applied (a replay after a crash calls no endpoint again). A
    // failing endpoint fails the batch, which is retried in place (nothing skipped).
    if (applied === undefined) applied = (await readCheckpoints(pool, projection)).get(partition) ?? 0;
    const floor = applied;
    const embeddings = await embedBatch(embedder, events.filter((e) => e.streamSeq > floor));
    const snaps = await inTransaction(pool, async (c) => {
      const checkpoint = await readCheckpoint(c, projection, partition);
      const fresh = events.filter((e) => e.streamSeq > checkpoint);
      stats.skippedReplays += events.length - fresh.length;
      await applyWarm(c, fresh, { partition, embeddings });
      const s = await readHotSnapshots(c, events);
      if (lastSeq > checkpoint) await saveCheckpoint(c, projection, partition, lastSeq, ingressSeq);
      return s;
    });
    applied = Math.max(applied, lastSeq);
    await hot.apply(buildHotOps(events, snaps));
    stats.batches += 1;
    stats.events += events.length;
  };
}

async function embedBatch(embedder: Embedder, events: readonly SeqEvent[]): Promise<ComputedEmbeddings> {
  const todo = textsToEmbed(events);
  const byEvent = new Map<string, Float32Array>();
  if (todo.length > 0) {
    const vecs = await embedder.embed(todo.map((t) => t.text));
    todo.forEach((t, i) => byEvent.set(t.eventId, vecs[i]!));
  }
  return { model: embedder.model, byEvent };
}
