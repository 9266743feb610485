import type { JetStreamClient } from '@nats-io/jetstream';
import { partitionOf, type Names } from '@farmbrain/contracts';
import { every, type Logger, type Pool } from '@farmbrain/platform';
import {
  planMoves,
  publishMoves,
  readInventory,
  type Inventory,
  type LifecyclePolicy,
  type Plan,
  type PlannedMove,
  type PublishResult,
  type ReadInventoryOptions,
} from '@farmbrain/lifecycle';

export interface LifecycleSchedulerDeps {
  /** The pool of the projection version the scheduler plans for (its schema's tables). */
  pool: Pool;
  js: JetStreamClient;
  names: Names;
  policy: LifecyclePolicy;
  intervalMs: number;
  /** The partitions this instance owns now in that version: their agents are planned here, and only here. */
  owned: () => readonly number[];
  /** Whether that version is the live one (only the live version plans: a rebuild catching up sees the past). Default: always. */
  isLive?: () => boolean | Promise<boolean>;
  /** Whether tiering has an archive store (it refuses moves into the archive without one): without, nothing is planned into it. Default true. */
  archive?: boolean;
  /** The clock (epoch ms). */
  now?: () => number;
  log: Logger;
  /**
   * A move this scheduler published is not published again for this long while the plan still holds it (tiering has
   * not applied it yet, or refused it: see its dead letters). Default 6 h. Another scheduler, or a restart, publishes it
   * again: JetStream drops the copy in its duplicate window, tiering applies an id once.
   */
  republishAfterMs?: number;
  /** Delay before the first run (default: the interval, at most a minute: leases are taken over by then). */
  firstRunDelayMs?: number;
  /** Seams for tests. */
  readInventory?: (pool: Pool, o: ReadInventoryOptions) => Promise<Inventory>;
  publishMoves?: (js: JetStreamClient, names: Names, moves: readonly PlannedMove[]) => Promise<PublishResult>;
}

/** What one run did. */
export interface LifecycleRun {
  now: number;
  /** Why nothing was planned, when so ('not live', 'no partitions owned'). */
  skipped?: string;
  agents: number;
  plan: Plan | undefined;
  /** Moves published by this run. */
  published: number;
  /** Moves of the plan this scheduler published less than republishAfterMs ago (not published again). */
  suppressed: number;
  /** Moves JetStream already had (published before by this or another scheduler). */
  duplicates: number;
  consistencyToken: string | undefined;
  tookMs: number;
}

export interface LifecycleScheduler {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
  /** Runs now (after any run in progress: runs never overlap); rejects when the run fails. */
  runOnce(now?: number): Promise<LifecycleRun>;
}

/**
 * Runs the lifecycle policies: every interval, reads the inventory of the
 * agents of the partitions this instance owns, plans the moves and publishes
 * them (records_moved events, deterministic ids: a run repeated, by this
 * instance after a crash or by the next owner of a partition, publishes the
 * same events, which the log and tiering keep once). Runs never overlap; a
 * failed run is logged and the next interval tries again.
 */
export function startLifecycleScheduler(deps: LifecycleSchedulerDeps): LifecycleScheduler {
  const clock = deps.now ?? Date.now;
  const read = deps.readInventory ?? readInventory;
  const publish = deps.publishMoves ?? ((js, names, moves) => publishMoves(js, names, moves));
  const notesSeen = new Set<string>();
  const republishAfterMs = deps.republishAfterMs ?? 6 * 3600_000;
  /** Move id → when (wall clock) this scheduler had it acknowledged. */
  const recent = new Map<string, number>();

  const once = async (now: number): Promise<LifecycleRun> => {
    const t0 = performance.now();
    const done = (r: Omit<LifecycleRun, 'now' | 'tookMs'>): LifecycleRun => ({ now, ...r, tookMs: Math.round(performance.now() - t0) });
    if (deps.isLive && !(await deps.isLive())) return done({ skipped: 'not the live version', agents: 0, plan: undefined, published: 0, suppressed: 0, duplicates: 0, consistencyToken: undefined });
    const owned = new Set(deps.owned());
    if (owned.size === 0) return done({ skipped: 'no partitions owned', agents: 0, plan: undefined, published: 0, suppressed: 0, duplicates: 0, consistencyToken: undefined });
    const all = (await deps.pool.query<{ agent_id: string }>('SELECT agent_id FROM agents')).rows.map((r) => r.agent_id);
    const agents = all.filter((a) => owned.has(partitionOf(a, deps.names.partitions)));
    if (agents.length === 0) return done({ agents: 0, plan: undefined, published: 0, suppressed: 0, duplicates: 0, consistencyToken: undefined });
    const inv = await read(deps.pool, { agents, now, policy: deps.policy });
    for (const note of inv.notes) {
      if (notesSeen.has(note)) continue;
      notesSeen.add(note);
      deps.log.info({ note }, 'lifecycle inventory');
    }
    const plan = planMoves(inv, deps.policy, now, { archive: deps.archive ?? true });
    const wall = Date.now();
    for (const [id, at] of recent) if (wall - at >= republishAfterMs) recent.delete(id);
    const fresh = plan.moves.filter((m) => !recent.has(m.eventId));
    const suppressed = plan.moves.length - fresh.length;
    if (fresh.length === 0) {
      deps.log.debug({ agents: agents.length, pending: suppressed, heldBack: plan.heldBack.length }, 'lifecycle: nothing new to move');
      return done({ agents: agents.length, plan, published: 0, suppressed, duplicates: 0, consistencyToken: undefined });
    }
    const { published, consistencyToken } = await publish(deps.js, deps.names, fresh);
    for (const p of published) recent.set(p.eventId, wall);
    const duplicates = published.filter((p) => p.duplicate).length;
    const run = done({ agents: agents.length, plan, published: published.length, suppressed, duplicates, consistencyToken });
    deps.log.info({
      agents: agents.length, moves: fresh.length, duplicates, pending: suppressed, byPolicy: plan.byPolicy, heldBack: plan.heldBack.length,
      bytesSaved: { warm: plan.bytes.warm.saved, cold: plan.bytes.cold.saved, archive: plan.bytes.archive.saved }, tookMs: run.tookMs,
    }, 'lifecycle moves published');
    return run;
  };

  const loop = every(deps.intervalMs, (now: number | undefined) => once(now ?? clock()), {
    log: deps.log, name: 'lifecycle run', firstDelayMs: deps.firstRunDelayMs ?? Math.min(deps.intervalMs, 60_000),
  });
  deps.log.info({ intervalMs: deps.intervalMs, policy: deps.policy }, 'lifecycle scheduler started');

  return {
    runOnce: (now?: number) => loop.run(now),
    stop: () => loop.stop(),
  };
}
