import { EVENT_TYPES, type EventLimits, type EventType } from '@farmbrain/contracts';
import { EmbeddingsRefusedError, failureKind, type Embedder, type Logger, type MemoryKeys, type Pool } from '@farmbrain/platform';
import { newProjectionStats, type Projection, type ProjectionStats, type SeqEvent } from '@farmbrain/projection';
import { readAgentViews, type HotView } from '@farmbrain/store';
import { readHotChanges } from './hot/hotChanges.js';
import { agentsOf, rehydrate } from './hot/rehydrate.js';
import { loadLifecycleState, sweepArchiveRemovals, type LifecycleOptions, type LifecycleState } from './warm/lifecycle.js';
import { recordRejectedWrites } from './warm/rejectedWrites.js';
import { revealMemories } from './warm/revealMemories.js';
import { applyWarm, KEYED_BY_ROW, textsToEmbed, type ComputedEmbeddings } from './warm/warmStore.js';
import { appliedErasures, erasureEventIds, recentErasures } from './warm/erase.js';

export interface TieringDeps {
  pool: Pool;
  hot: HotView;
  log: Logger;
  /** The projection's versioned name (`tiering.v1`): its checkpoints, claims and dead letters are kept under it. */
  name: string;
  /** Embeds memories that arrive without an embedding. */
  embedder: Embedder;
  /** The deployment's event limits (ingest's): events on the log are checked against the same rules. Default: the contract's. */
  limits?: EventLimits;
  /** The deployment's partition count (which agents are a partition's). */
  partitions: number;
  /** The memory keys: sealed memory content is opened with them (absent: content is taken as it is on the log). */
  keys?: MemoryKeys;
  /** Called when Redis turned out to have lost hot writes (a partition's copies were marked incomplete): rebuild them. */
  onHotLost?: () => void;
  stats?: TieringStats;
  /** Moves between tiers (records_moved): the archive store for the archive tier, and the namespace its keys start with. */
  lifecycle?: LifecycleOptions;
}

export interface TieringStats extends ProjectionStats {
  /** Agents whose hot copy was rebuilt from Postgres (Redis had lost it, or never had it). */
  hydrated: number;
}

/** Every type but alerts: those are the analytics service's (and would make `_fleet` an agent here). */
export const TIERING_TYPES: ReadonlySet<EventType> = new Set(EVENT_TYPES.filter((t) => t !== 'alert_changed'));

export const newTieringStats = (): TieringStats => ({ ...newProjectionStats(), hydrated: 0 });

/** What a partition's worker knows about Redis. */
interface HotState {
  /**
   * How far Redis must hold this partition's copies: what this instance last wrote there (unknown before its
   * first write: at takeover, the partition's copies are checked against its checkpoint).
   */
  hotThrough: number | undefined;
  /** Batches committed while Redis was down: their hot writes were skipped, so the partition's copies are behind. */
  hotBehind: boolean;
  /** The kinds the partition has cold blocks of (see warm/lifecycle.ts). */
  lifecycle: LifecycleState;
  /** Erased memories whose recalled-memory cache entry is still to be replaced by a tombstone (Redis was down). */
  erasedDocs: string[];
}

/**
 * Tiering as a projection: the warm tables in Postgres, in the batch's
 * transaction, and the hot copies in Redis after the commit.
 *
 * Warm: applyWarm applies the events the runner hands over (above the
 * checkpoint, claimed or keyed by row), returns what it skips on purpose
 * (dead-lettered), and each batch records what ingest rejected.
 *
 * Hot: after the commit, tiering reads back, for every agent of the batch,
 * what changed in its view, and Redis gets it (replays included, since a
 * crash may have come between the commit and Redis). An agent whose copy is
 * not complete (Redis lost it) is rebuilt whole from Postgres. At takeover of
 * a partition, copies Redis lost meanwhile are rebuilt before any batch. A
 * transient failure rejects, and the batch is retried in place.
 */
export function tieringProjection({ pool, hot, log, name, embedder, limits, partitions, onHotLost, keys, stats = newTieringStats(), lifecycle = { namespace: '' } }: TieringDeps): Projection<HotState, ComputedEmbeddings> {
  return {
    name,
    handles: TIERING_TYPES,
    keyedByRow: KEYED_BY_ROW,
    ...(limits ? { limits } : {}),
    async open(partition) {
      // Copies Redis lost while nobody applied this partition (a crash between a commit and Redis, a Redis restart)
      // come back before the partition runs, so no batch is caught between its commit and its Redis write.
      await rehydrate(pool, hot, { projection: name, partitions, owned: [partition], log })
        .then((k) => void (stats.hydrated += k))
        .catch((err: unknown) => {
          log.warn({ err: (err as Error)?.message ?? String(err), partition }, 'hot copies not checked at takeover (Redis not there yet); checked once it is');
          onHotLost?.();
        });
      // Archive objects a crash left queued for removal (their blocks were deleted) go now.
      await sweepArchiveRemovals(pool, lifecycle.store, partition, log);
      // Erasures a crash or a Redis outage may have left in the recalled-memory cache get their tombstones again.
      const erasedDocs = await recentErasures(pool, partition);
      return { hotThrough: undefined, hotBehind: false, lifecycle: await loadLifecycleState(pool, partition), erasedDocs };
    },
    ...(keys ? { reveal: (events: readonly SeqEvent[]) => revealMemories(keys, events, log) } : {}),
    prepare: (events) => embedBatch(embedder, events, log),
    apply: (c, events, ctx) => applyWarm(c, events, {
      partition: ctx.partition, embeddings: ctx.prepared, lifecycle: { partition: ctx.partition, state: ctx.state.lifecycle, options: lifecycle },
    }),
    onBatch: (c, ctx) => recordRejectedWrites(c, ctx.partition, ctx.batch.rejections.filter((r) => r.streamSeq > ctx.checkpoint)),
    async afterCommit(events, { partition, batch, state }) {
      // Records that left warm leave the agent's view (its newest decisions are its newest warm ones): rebuild those copies.
      const moved = [...new Set(events.filter((e) => e.type === 'records_moved').map((e) => e.agentId))];
      if (moved.length > 0) await sweepArchiveRemovals(pool, lifecycle.store, partition, log).catch((err: unknown) => log.warn({ err, partition }, 'archive removals not swept'));
      // Erased memories' recalled-memory cache entries become tombstones: those of the erasures applied (a refused
      // one, of a memory that is not there, leaves nothing), and any a Redis outage left over.
      const erasures = erasureEventIds(events);
      const erased = [...state.erasedDocs, ...(erasures.length === 0 ? [] : await appliedErasures(pool, erasures)
        .catch(() => events.flatMap((e) => (e.type === 'memory_erased' ? [e.data.memoryId] : []))))];
      // Read back after the commit: only this partition's owner writes these agents' views, so what it
      // reads is what this batch left (the queries run in parallel on the pool).
      try {
        if (erased.length > 0) {
          await hot.eraseDocs(erased);
          state.erasedDocs = [];
        }
        // Memories promoted or demoted: their cached content is cached again for as long as the new tier says.
        await hot.dropDocs(events.flatMap((e) => (e.type === 'records_moved' && e.data.kind === 'memory' ? e.data.recordIds : [])));
        const changes = await readHotChanges(pool, events, batch.lastSeq, hot.keep);
        const { cold, markBefore } = await hot.apply(changes, { partition, seq: batch.lastSeq });
        let rebuild = [...new Set([...cold, ...moved])];
        if (state.hotBehind || (state.hotThrough !== undefined && markBefore < state.hotThrough)) {
          // Redis lost writes (it was down, came back from an older snapshot, or a lagging replica took over):
          // every copy of the partition may lack changes while saying complete. Mark them incomplete; this
          // batch's agents are rebuilt now, the rest by the background rebuild.
          const all = await agentsOf(pool, partitions, [partition]);
          await hot.invalidate(all);
          log.warn({ partition, agents: all.length, expected: state.hotThrough, redisWasDown: state.hotBehind }, 'Redis holds less than was written to it; hot copies of the partition marked incomplete and rebuilt from Postgres');
          onHotLost?.();
          state.hotBehind = false;
          rebuild = changes.map((c) => c.agentId);
        }
        if (rebuild.length > 0) {
          await hot.hydrate(await readAgentViews(pool, rebuild, hot.keep), batch.lastSeq);
          stats.hydrated += rebuild.length;
        }
        state.hotThrough = batch.lastSeq;
      } catch (err) {
        if (failureKind(err) === 'transient') {
          // Redis is down: Postgres goes on (reads fall back to it), and the partition's copies, now behind,
          // are marked incomplete and rebuilt once Redis is back (its mark stays behind the checkpoint).
          // A Redis that is up but slow is retried in place instead: a copy must never silently miss a batch.
          if (hot.connected) throw err;
          if (!state.hotBehind) log.warn({ partition }, 'Redis is down: the partition goes on in Postgres; its hot copies are rebuilt when Redis is back');
          state.hotBehind = true;
          state.erasedDocs = erased;
          return;
        }
        // The warm store committed; a hot copy that cannot be written must not stall the partition either.
        // Marked incomplete, those agents are read from Postgres until their copy is rebuilt.
        const agents = [...new Set(events.map((e) => e.agentId))];
        await hot.invalidate(agents);
        log.error({ err, partition, agents: agents.slice(0, 10) }, 'hot copies could not be written; marked incomplete (read from Postgres)');
      }
    },
  };
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
