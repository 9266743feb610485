import type { JsMsg } from '@nats-io/jetstream';
import { defaultEventLimits, encodeEvent, type EventLimits } from '@farmbrain/contracts';
import { EmbeddingsRefusedError, failureKind, inTransaction, type Embedder, type Logger, type Pool } from '@farmbrain/platform';
import { readAgentViews, type HotView } from '@farmbrain/store';
import { readHotChanges } from './hot/hotChanges.js';
import { agentsOf } from './hot/rehydrate.js';
import { applyAll, applyOneByOne, BatchPoisonedError } from './projection/applyIsolated.js';
import { decodeCanonical, firstOfEach, type SeqEvent } from './projection/canonicalBatch.js';
import { recordDeadLetters, type DeadLetter } from './projection/deadLetters.js';
import { claimEvents, releaseForReplay } from './projection/processedEvents.js';
import { recordRejectedWrites } from './projection/rejectedWrites.js';
import { applyWarm, KEYED_BY_ROW, readCheckpoint, readCheckpoints, saveCheckpoint, textsToEmbed, type ComputedEmbeddings, type Skip } from './warm/warmStore.js';

export interface ProjectorDeps {
  pool: Pool;
  hot: HotView;
  log: Logger;
  projection: string;
  /** Embeds memories that arrive without an embedding. */
  embedder: Embedder;
  /** The deployment's event limits (ingest's): events on the log are checked against the same rules. Default: the contract's. */
  limits?: EventLimits;
  /** The deployment's partition count (which agents are this partition's). */
  partitions: number;
  /** Called when Redis turned out to have lost hot writes (the partition's copies were marked incomplete): rebuild them. */
  onHotLost?: () => void;
}

export interface TieringStats {
  batches: number;
  events: number;
  /** Events below the checkpoint (a redelivery after a crash). */
  skippedReplays: number;
  /** Copies of events already processed (same event id) the batch or a claim caught; copies of row-keyed events are absorbed by their rows, uncounted. */
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
 * claims their ids (an id already processed is a duplicate and is dropped;
 * types whose rows are keyed by event id are deduplicated by those rows),
 * applies the rest, dead-letters what cannot be applied (poison isolation: a
 * deterministic failure is narrowed to its event, the partition moves on),
 * records what ingest rejected, and moves the checkpoint.
 *
 * Hot: after the commit, tiering reads back, for every agent of the batch,
 * what changed in its view, and Redis gets it (replays included, since a
 * crash may have come between the commit and Redis). An agent whose copy is
 * not complete (Redis lost it) is rebuilt whole from Postgres. The worker acks
 * only after both; a transient failure anywhere rejects, and the batch is retried in place.
 */
export function createTieringHandler({ pool, hot, log, projection, embedder, limits = defaultEventLimits(), partitions, onHotLost }: ProjectorDeps, partition: number, stats: TieringStats) {
  /** This partition's checkpoint as last committed here (read once, then tracked). */
  let applied: number | undefined;
  /**
   * How far Redis must hold this partition's copies: what this worker last wrote there (unknown before its
   * first write: at start, tiering checks Redis against the checkpoints before the partitions run).
   */
  let hotThrough: number | undefined;
  /** Batches committed while Redis was down: their hot writes were skipped, so the partition's copies are behind. */
  let hotBehind = false;
  return async (msgs: readonly JsMsg[]): Promise<void> => {
    const batch = decodeCanonical(msgs, partition, limits);
    const events = firstOfEach(batch.events);
    // Embeddings are computed before the transaction, in one call per batch, for
    // events not yet applied (a replay after a crash calls no endpoint again). A
    // failing endpoint fails the batch, which is retried in place (nothing skipped).
    if (applied === undefined) applied = (await readCheckpoints(pool, projection)).get(partition) ?? 0;
    const floor = applied;
    const embeddings = await embedBatch(embedder, events.filter((e) => e.streamSeq > floor), log);
    // The fast path applies the batch in one go; a deterministic failure aborts that
    // transaction, and the batch runs again event by event to isolate the poison.
    const once = (isolate: boolean) => inTransaction(pool, async (c) => {
      const checkpoint = await readCheckpoint(c, projection, partition);
      const above = events.filter((e) => e.streamSeq > checkpoint);
      for (const r of batch.replays) if (r.streamSeq > checkpoint) await releaseForReplay(c, projection, r.deadLetterId, r.eventIds);
      const fresh = await claimEvents(c, projection, above.filter((e) => !KEYED_BY_ROW.has(e.type)).map((e) => e.eventId));
      const todo = above.filter((e) => KEYED_BY_ROW.has(e.type) || fresh.has(e.eventId));
      const apply = (es: readonly SeqEvent[]) => applyWarm(c, es, { partition, embeddings });
      const { results: skipped, failed } = isolate ? await applyOneByOne(c, todo, apply) : { results: await applyAll(todo, apply), failed: [] };
      const letters: DeadLetter[] = [
        ...batch.unfit.filter((l) => l.streamSeq > checkpoint),
        ...failed.map((f) => letterOf(f.event, partition, batch.ingressOf, 'APPLY_FAILED', `${f.error.message}${f.sqlstate ? ` (SQLSTATE ${f.sqlstate})` : ''}`, f.sqlstate)),
        ...skipped.map((s: Skip) => letterOf(s.event, partition, batch.ingressOf, s.code, s.reason)),
      ];
      await recordDeadLetters(c, projection, letters);
      await recordRejectedWrites(c, partition, batch.rejections.filter((r) => r.streamSeq > checkpoint));
      if (batch.lastSeq > checkpoint) await saveCheckpoint(c, projection, partition, batch.lastSeq, batch.ingressSeq);
      return { letters, replayed: events.length - above.length, duplicates: batch.events.length - events.length + above.length - todo.length };
    });
    const outcome = await once(false).catch((err: unknown) => {
      if (err instanceof BatchPoisonedError) return once(true);
      throw err;
    });
    const { letters } = outcome;
    stats.skippedReplays += outcome.replayed;
    stats.duplicates += outcome.duplicates;
    applied = Math.max(applied, batch.lastSeq);
    if (letters.length > 0) {
      stats.deadLettered += letters.length;
      const codes: Record<string, number> = {};
      for (const l of letters) codes[l.code] = (codes[l.code] ?? 0) + 1;
      const first = letters[0]!;
      log.warn({ partition, n: letters.length, codes, first: { eventId: first.eventId, agentId: first.agentId, code: first.code, reason: first.reason.slice(0, 300) } },
        'events dead-lettered by the projection; the partition goes on (list them: GET /v1/dead-letters)');
    }
    // Read back after the commit: only this partition's worker writes these agents' views, so what it
    // reads is what this batch left (the queries run in parallel on the pool).
    try {
      const changes = await readHotChanges(pool, events, batch.lastSeq, hot.keep);
      const { cold, markBefore } = await hot.apply(changes, { partition, seq: batch.lastSeq });
      let rebuild = cold;
      if (hotBehind || (hotThrough !== undefined && markBefore < hotThrough)) {
        // Redis lost writes (it was down, came back from an older snapshot, or a lagging replica took over):
        // every copy of the partition may lack changes while saying complete. Mark them incomplete; this
        // batch's agents are rebuilt now, the rest by the background rebuild.
        const all = await agentsOf(pool, partitions, [partition]);
        await hot.invalidate(all);
        log.warn({ partition, agents: all.length, expected: hotThrough, redisWasDown: hotBehind }, 'Redis holds less than was written to it; hot copies of the partition marked incomplete and rebuilt from Postgres');
        onHotLost?.();
        hotBehind = false;
        rebuild = changes.map((c) => c.agentId);
      }
      if (rebuild.length > 0) {
        await hot.hydrate(await readAgentViews(pool, rebuild, hot.keep), batch.lastSeq);
        stats.hydrated += rebuild.length;
      }
      hotThrough = batch.lastSeq;
    } catch (err) {
      if (failureKind(err) === 'transient') {
        // Redis is down: Postgres goes on (reads fall back to it), and the partition's copies, now behind,
        // are marked incomplete and rebuilt once Redis is back (its mark stays behind the checkpoint).
        // A Redis that is up but slow is retried in place instead: a copy must never silently miss a batch.
        if (hot.connected) throw err;
        if (!hotBehind) log.warn({ partition }, 'Redis is down: the partition goes on in Postgres; its hot copies are rebuilt when Redis is back');
        hotBehind = true;
        stats.batches += 1;
        stats.events += batch.events.length;
        return;
      }
      // The warm store committed; a hot copy that cannot be written must not stall the partition either.
      // Marked incomplete, those agents are read from Postgres until their copy is rebuilt.
      const agents = [...new Set(events.map((e) => e.agentId))];
      await hot.invalidate(agents);
      log.error({ err, partition, agents: agents.slice(0, 10) }, 'hot copies could not be written; marked incomplete (read from Postgres)');
    }
    stats.batches += 1;
    stats.events += batch.events.length;
  };
}

const letterOf = (e: SeqEvent, partition: number, ingressOf: ReadonlyMap<number, number>, code: string, reason: string, sqlstate?: string): DeadLetter => ({
  partition, streamSeq: e.streamSeq, ingressSeq: ingressOf.get(e.streamSeq) ?? 0, eventId: e.eventId, agentId: e.agentId, eventType: e.type, code, reason,
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

/**
 * The batch's embeddings, in one call. When the endpoint refuses the request as
 * such (400/413/422: a text it will not take, such as one beyond its token
 * limit), the texts go one by one, and a memory whose text is refused is stored
 * without a vector (still found by its words), with a warning: one text never
 * stalls the partition. When it refuses every text alone, the trouble is the
 * endpoint's settings, not the data: the batch fails and is retried in place.
 */
async function embedBatch(embedder: Embedder, events: readonly SeqEvent[], log: Logger): Promise<ComputedEmbeddings> {
  const todo = textsToEmbed(events);
  const byEvent = new Map<string, Float32Array>();
  if (todo.length === 0) return { model: embedder.model, byEvent };
  try {
    const vecs = await embedder.embed(todo.map((t) => t.text));
    todo.forEach((t, i) => byEvent.set(t.eventId, vecs[i]!));
  } catch (err) {
    if (!(err instanceof EmbeddingsRefusedError)) throw err;
    const refused: string[] = [];
    for (const t of todo) {
      try {
        byEvent.set(t.eventId, (await embedder.embed([t.text]))[0]!);
      } catch (e) {
        if (!(e instanceof EmbeddingsRefusedError)) throw e;
        refused.push(t.eventId);
      }
    }
    if (refused.length === todo.length) throw err;
    log.warn({ refused, reason: err.message.slice(0, 300) }, 'the embeddings endpoint refused some memory texts; those memories are stored without a vector (found by text only)');
  }
  return { model: embedder.model, byEvent };
}
