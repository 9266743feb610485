import type { JsMsg } from '@nats-io/jetstream';
import { encodeEvent } from '@farmbrain/contracts';
import { inTransaction, type Embedder, type Logger, type Pool } from '@farmbrain/platform';
import { readAgentViews, type HotView } from '@farmbrain/store';
import { readHotChanges } from './hot/hotChanges.js';
import { applyIsolated } from './projection/applyIsolated.js';
import { decodeCanonical, firstOfEach, type SeqEvent } from './projection/canonicalBatch.js';
import { recordDeadLetters, type DeadLetter } from './projection/deadLetters.js';
import { claimEvents, releaseForReplay } from './projection/processedEvents.js';
import { recordRejectedWrites } from './projection/rejectedWrites.js';
import { applyWarm, readCheckpoint, readCheckpoints, saveCheckpoint, textsToEmbed, type ComputedEmbeddings, type Skip } from './warm/warmStore.js';

export interface ProjectorDeps {
  pool: Pool;
  hot: HotView;
  log: Logger;
  projection: string;
  /** Embeds memories that arrive without an embedding. */
  embedder: Embedder;
}

export interface TieringStats {
  batches: number;
  events: number;
  /** Events below the checkpoint (a redelivery after a crash). */
  skippedReplays: number;
  /** Copies of events already processed (same event id), not applied again. */
  duplicates: number;
  /** Events dead-lettered by this projection (cannot be applied, or skipped on purpose). */
  deadLettered: number;
  /** Agents whose hot copy was rebuilt from Postgres (Redis had lost it, or never had it). */
  hydrated: number;
}

export const newTieringStats = (): TieringStats => ({ batches: 0, events: 0, skippedReplays: 0, duplicates: 0, deadLettered: 0, hydrated: 0 });

/**
 * The batch handler of one partition.
 *
 * Warm: one Postgres transaction takes the events above the checkpoint,
 * claims their ids (an id already processed is a duplicate and is dropped),
 * applies the rest, dead-letters what cannot be applied (poison isolation: a
 * deterministic failure is narrowed to its event, the partition moves on),
 * records what ingest rejected, and moves the checkpoint.
 *
 * Hot: the same transaction reads back, for every agent of the batch, what
 * changed in its view; after commit Redis gets it (replays included, since a
 * crash may have come between the commit and Redis). An agent whose copy is
 * not complete (Redis lost it) is rebuilt whole from Postgres. The worker acks
 * only after both; a transient failure anywhere rejects, and the batch is retried in place.
 */
export function createTieringHandler({ pool, hot, log, projection, embedder }: ProjectorDeps, partition: number, stats: TieringStats) {
  /** This partition's checkpoint as last committed here (read once, then tracked). */
  let applied: number | undefined;
  return async (msgs: readonly JsMsg[]): Promise<void> => {
    const batch = decodeCanonical(msgs, partition);
    const events = firstOfEach(batch.events);
    // Embeddings are computed before the transaction, in one call per batch, for
    // events not yet applied (a replay after a crash calls no endpoint again). A
    // failing endpoint fails the batch, which is retried in place (nothing skipped).
    if (applied === undefined) applied = (await readCheckpoints(pool, projection)).get(partition) ?? 0;
    const floor = applied;
    const embeddings = await embedBatch(embedder, events.filter((e) => e.streamSeq > floor));
    const { changes, letters } = await inTransaction(pool, async (c) => {
      const checkpoint = await readCheckpoint(c, projection, partition);
      const above = events.filter((e) => e.streamSeq > checkpoint);
      for (const r of batch.replays) if (r.streamSeq > checkpoint) await releaseForReplay(c, projection, r.deadLetterId, r.eventIds);
      const fresh = await claimEvents(c, projection, above.map((e) => e.eventId));
      const todo = above.filter((e) => fresh.has(e.eventId));
      stats.skippedReplays += events.length - above.length;
      stats.duplicates += batch.events.length - events.length + above.length - todo.length;
      const { results: skipped, failed } = await applyIsolated(c, todo, (es) => applyWarm(c, es, { partition, embeddings }));
      const letters: DeadLetter[] = [
        ...batch.unfit.filter((l) => l.streamSeq > checkpoint),
        ...failed.map((f) => letterOf(f.event, partition, 'APPLY_FAILED', `${f.error.message}${f.sqlstate ? ` (SQLSTATE ${f.sqlstate})` : ''}`, f.sqlstate)),
        ...skipped.map((s: Skip) => letterOf(s.event, partition, s.code, s.reason)),
      ];
      await recordDeadLetters(c, projection, letters);
      await recordRejectedWrites(c, partition, batch.rejections.filter((r) => r.streamSeq > checkpoint));
      const changes = await readHotChanges(c, events, batch.lastSeq, hot.keep);
      if (batch.lastSeq > checkpoint) await saveCheckpoint(c, projection, partition, batch.lastSeq, batch.ingressSeq);
      return { changes, letters };
    });
    applied = Math.max(applied, batch.lastSeq);
    if (letters.length > 0) {
      stats.deadLettered += letters.length;
      const codes: Record<string, number> = {};
      for (const l of letters) codes[l.code] = (codes[l.code] ?? 0) + 1;
      const first = letters[0]!;
      log.warn({ partition, n: letters.length, codes, first: { eventId: first.eventId, agentId: first.agentId, code: first.code, reason: first.reason.slice(0, 300) } },
        'events dead-lettered by the projection; the partition goes on (list them: GET /v1/dead-letters)');
    }
    const cold = await hot.apply(changes);
    if (cold.length > 0) {
      await hot.hydrate(await readAgentViews(pool, cold, hot.keep), batch.lastSeq);
      stats.hydrated += cold.length;
    }
    stats.batches += 1;
    stats.events += batch.events.length;
  };
}

const letterOf = (e: SeqEvent, partition: number, code: string, reason: string, sqlstate?: string): DeadLetter => ({
  partition, streamSeq: e.streamSeq, eventId: e.eventId, agentId: e.agentId, eventType: e.type, code, reason,
  ...(sqlstate ? { sqlstate } : {}), body: safeEncode(e),
});

/** The event as protobuf; a dead letter is written even if the event cannot be encoded (its id and reason still are). */
function safeEncode(e: SeqEvent): Uint8Array {
  try {
    return encodeEvent(e);
  } catch {
    return new Uint8Array();
  }
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
