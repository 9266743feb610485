import { defaultEventLimits, encodeEvent, type EventLimits, type EventType } from '@farmbrain/contracts';
import { inTransaction, type Logger, type Pool, type PoolClient } from '@farmbrain/platform';
import { applyAll, applyOneByOne, BatchPoisonedError } from './applyIsolated.js';
import { decodeCanonical, firstOfEach, rawBatch, type CanonicalBatch, type CanonicalMessage, type SeqEvent } from './canonicalBatch.js';
import { claimPartition, lockCheckpoint, saveCheckpoint } from './checkpoints.js';
import { recordDeadLetters, type DeadLetter } from './deadLetters.js';
import { claimEvents, releaseForReplay } from './processedEvents.js';
import type { PartitionSession } from './runner.js';

/** An event a projection chose not to apply, and why: it is dead-lettered with this code, so it leaves a trace. */
export interface Skip {
  event: SeqEvent;
  code: string;
  reason: string;
}

/** What a projection sees of the batch it applies. */
export interface BatchContext<S> {
  partition: number;
  /** The lease epoch this partition is applied under. */
  epoch: number;
  /** The whole decoded batch (ingest's rejection marks, replays, ingress sequences). */
  batch: CanonicalBatch;
  /** The partition's checkpoint before this batch (events at or below it were applied before). */
  checkpoint: number;
  /** What `open` returned for this partition. */
  state: S;
  log: Logger;
}

/**
 * A projection of the canonical log into Postgres (and, after the commit, into
 * side stores such as Redis), in the manner of Emmett's projections: a
 * versioned name and what to do with a batch. The runner owns everything
 * around it (projectionSession): decoding, dead letters, skipping replays
 * below the checkpoint, one claim per event id, poison isolation, and the
 * checkpoint written in the batch's transaction under the lease's epoch.
 */
export interface Projection<S = undefined, P = undefined> {
  /** Versioned: `tiering.v1`. Its checkpoints, claims and dead letters are kept under this name. */
  readonly name: string;
  /** The event types it applies; others pass by (the checkpoint moves past them). Default: every type. */
  readonly handles?: ReadonlySet<EventType>;
  /**
   * Types whose every effect hangs off a row the projection keys by event id
   * (inserted ON CONFLICT DO NOTHING): applying one twice changes nothing, so
   * they are not claimed (a claim costs an index insert per event). Every other
   * type is claimed in `projection_events` before `apply` sees it.
   */
  readonly keyedByRow?: ReadonlySet<EventType>;
  /** The deployment's event limits: events on the log are checked against the same rules as at ingest (the clock aside). */
  readonly limits?: EventLimits;
  /**
   * A projection of the messages themselves (the archive): nothing is decoded,
   * so there are no events and no dead letters; `apply` sees no events, and
   * `onBatch` finds the messages in `ctx.batch.messages` (those at or below
   * `ctx.checkpoint` were applied before).
   */
  readonly raw?: boolean;
  /**
   * At takeover of a partition, before any batch: the partition's state (e.g. rebuild side stores the instance cannot
   * trust). `checkpoint`: the last stream sequence applied (0: none yet).
   */
  open?(partition: number, epoch: number, checkpoint: number): Promise<S>;
  /**
   * First, for the events above the checkpoint as last known: the events as the projection must see them
   * (e.g. memory content opened with its key, see @farmbrain/contracts seal.ts), same ids, same order.
   * A failure retries the batch in place.
   */
  reveal?(events: readonly SeqEvent[], ctx: BatchContext<S>): Promise<SeqEvent[]>;
  /** Before the transaction (e.g. embeddings): for events above the checkpoint as last known. A failure retries the batch in place. */
  prepare?(events: readonly SeqEvent[], ctx: BatchContext<S>): Promise<P>;
  /**
   * Applies events in log order inside the batch's transaction, through `tx`
   * only. It may be called with the whole batch or one event at a time (under
   * savepoints, to isolate an event that fails deterministically). Returns the
   * events skipped on purpose.
   */
  apply(tx: PoolClient, events: readonly SeqEvent[], ctx: BatchContext<S> & { prepared: P }): Promise<readonly Skip[] | void>;
  /** Once per batch in its transaction, after the events (facts of the batch, not of an event: e.g. ingest's rejection marks). */
  onBatch?(tx: PoolClient, ctx: BatchContext<S>): Promise<void>;
  /**
   * After the commit, with every event of the batch (replays included: a crash
   * may have come between the commit and this): idempotent side stores. A
   * rejection retries the batch in place (the transaction then applies nothing).
   */
  afterCommit?(events: readonly SeqEvent[], ctx: BatchContext<S>): Promise<void>;
  /** When the partition stops here. */
  close?(partition: number, state: S): Promise<void>;
}

export interface ProjectionStats {
  batches: number;
  events: number;
  /** Events below the checkpoint (a redelivery after a crash or a takeover). */
  skippedReplays: number;
  /** Copies of events already processed that the batch or a claim caught (copies of row-keyed events are absorbed by their rows, uncounted). */
  duplicates: number;
  /** Events dead-lettered (cannot be applied, or skipped on purpose). */
  deadLettered: number;
}

export const newProjectionStats = (): ProjectionStats => ({ batches: 0, events: 0, skippedReplays: 0, duplicates: 0, deadLettered: 0 });

export interface ProjectionDeps {
  pool: Pool;
  log: Logger;
  stats?: ProjectionStats;
}

/**
 * Takes a partition of `projection` over under `epoch` (raising the
 * checkpoint's epoch, which fences any older owner) and returns its session:
 * the batch handler the partition runner pulls into.
 *
 * Per batch: decode (what cannot be decoded or breaks the contract is
 * dead-lettered), keep the first copy of each event id, prepare, then one
 * transaction: lock the checkpoint (refused if a newer epoch took the
 * partition), drop events at or below it, release dead letters being replayed,
 * claim the ids of types not keyed by row, apply (in one go; after a
 * deterministic failure, again one event at a time, and only the failing event
 * is dead-lettered), record dead letters, move the checkpoint. Then afterCommit.
 */
export async function projectionSession<S, P>(projection: Projection<S, P>, deps: ProjectionDeps, partition: number, epoch: number): Promise<PartitionSession> {
  const { pool, log } = deps;
  const stats = deps.stats ?? newProjectionStats();
  const name = projection.name;
  const limits = projection.limits ?? defaultEventLimits();
  const startAfter = await claimPartition(pool, name, partition, epoch);
  const state = (await projection.open?.(partition, epoch, startAfter)) as S;
  /** The checkpoint as last committed here. */
  let applied = startAfter;
  const handles = projection.handles;
  const keyed = projection.keyedByRow ?? new Set<EventType>();
  return {
    startAfter,
    close: async () => projection.close?.(partition, state),
    handle: async (msgs: readonly CanonicalMessage[]): Promise<number> => {
      const batch = projection.raw ? rawBatch(msgs) : decodeCanonical(msgs, partition, limits);
      const events = firstOfEach(batch.events);
      const ctx: BatchContext<S> = { partition, epoch, batch, checkpoint: applied, state, log };
      const floor = applied;
      const handled = handles ? events.filter((e) => handles.has(e.type)) : events;
      // Log order: what is at or below the floor (a replay, dropped in the transaction) comes first.
      const mine = projection.reveal
        ? [...handled.filter((e) => e.streamSeq <= floor), ...(await projection.reveal(handled.filter((e) => e.streamSeq > floor), ctx))]
        : handled;
      const prepared = (await projection.prepare?.(mine.filter((e) => e.streamSeq > floor), ctx)) as P;
      const once = (isolate: boolean) => inTransaction(pool, async (c) => {
        const checkpoint = await lockCheckpoint(c, name, partition, epoch);
        const inTx: BatchContext<S> & { prepared: P } = { ...ctx, checkpoint, prepared };
        const above = mine.filter((e) => e.streamSeq > checkpoint);
        for (const r of batch.replays) if (r.streamSeq > checkpoint) await releaseForReplay(c, name, r.deadLetterId, r.eventIds);
        const fresh = await claimEvents(c, name, above.filter((e) => !keyed.has(e.type)).map((e) => e.eventId));
        const todo = above.filter((e) => keyed.has(e.type) || fresh.has(e.eventId));
        const apply = async (es: readonly SeqEvent[]) => [...((await projection.apply(c, es, inTx)) ?? [])];
        const { results: skipped, failed } = isolate ? await applyOneByOne(c, todo, apply) : { results: await applyAll(todo, apply), failed: [] };
        const letters: DeadLetter[] = [
          ...batch.unfit.filter((l) => l.streamSeq > checkpoint),
          ...failed.map((f) => letterOf(f.event, partition, batch.ingressOf, 'APPLY_FAILED', `${f.error.message}${f.sqlstate ? ` (SQLSTATE ${f.sqlstate})` : ''}`, f.sqlstate)),
          ...skipped.map((s) => letterOf(s.event, partition, batch.ingressOf, s.code, s.reason)),
        ];
        await recordDeadLetters(c, name, letters);
        await projection.onBatch?.(c, inTx);
        if (batch.lastSeq > checkpoint) await saveCheckpoint(c, name, partition, batch.lastSeq, batch.ingressSeq);
        return { letters, replayed: mine.length - above.length, duplicates: batch.events.length - events.length + above.length - todo.length };
      });
      const outcome = await once(false).catch((err: unknown) => {
        if (err instanceof BatchPoisonedError) return once(true);
        throw err;
      });
      applied = Math.max(applied, batch.lastSeq);
      stats.skippedReplays += outcome.replayed;
      stats.duplicates += outcome.duplicates;
      const { letters } = outcome;
      if (letters.length > 0) {
        stats.deadLettered += letters.length;
        const codes: Record<string, number> = {};
        for (const l of letters) codes[l.code] = (codes[l.code] ?? 0) + 1;
        const first = letters[0]!;
        log.warn({ projection: name, partition, n: letters.length, codes, first: { eventId: first.eventId, agentId: first.agentId, code: first.code, reason: first.reason.slice(0, 300) } },
          'events dead-lettered by the projection; the partition goes on (list them: GET /v1/dead-letters)');
      }
      await projection.afterCommit?.(events, { ...ctx, checkpoint: applied });
      stats.batches += 1;
      const n = projection.raw ? msgs.length : batch.events.length;
      stats.events += n;
      return n;
    },
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
