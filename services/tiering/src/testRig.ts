import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { JsMsg } from '@nats-io/jetstream';
import type { Redis } from 'ioredis';
import type { EventType, FarmEvent } from '@farmbrain/contracts';
import { COMMON_DEFAULTS, connectPostgres, connectRedis, createLogger, hashEmbedder, migrate, quoteIdent, type Embedder, type Logger, type Pool } from '@farmbrain/platform';
import { projectionSession, type PartitionSession } from '@farmbrain/projection';
import { HotView, MIGRATIONS_DIR, readAgentViews, type ViewLimits } from '@farmbrain/store';
import { redisDigest, warmDigest, type CanonicalMsg } from '@farmbrain/testing';
import { newTieringStats, TIERING_TYPES, tieringProjection, type TieringStats } from './tieringProjection.js';
import type { LifecycleOptions } from './warm/lifecycle.js';

/**
 * Test support (not a test): tiering projections run in-process against the
 * local Postgres and Redis, each in a fresh schema and Redis key prefix of its
 * own, so tests can compare what one log does with what another does.
 */

/** What the rigs of one test file share. */
export interface RigOptions {
  /** Begins each rig's schema name and Redis key prefix (`<prefix>_<10 hex digits>`), so leftovers say which test made them. */
  prefix: string;
  /** The projection's hot-copy limits; the views are read back with the same ones. */
  keep: ViewLimits;
  /** The partition every handler projects. */
  partition: number;
}

/** The rigs of one test file: one Redis connection (opened by `open`, closed by `close`) and how each rig is made. */
export class Rigs {
  private constructor(readonly redis: Redis, readonly options: RigOptions, private readonly log: Logger) {}

  /** Connects to the local Redis (REDIS_URL, else the default) as `name`; the projection logs nothing. */
  static async open(name: string, options: RigOptions): Promise<Rigs> {
    return new Rigs(await connectRedis(process.env.REDIS_URL ?? COMMON_DEFAULTS.redisUrl, name), options, createLogger(name, 'silent'));
  }

  /** A rig with its schema migrated and nothing in it; `dispose()` drops it. */
  create(): Promise<Rig> {
    return Rig.create(this.redis, this.options, this.log);
  }

  /** Runs `fn` with `n` fresh rigs and disposes of them all afterwards, whatever `fn` does. */
  async with<T>(n: number, fn: (...rigs: Rig[]) => Promise<T>): Promise<T> {
    const rigs: Rig[] = [];
    try {
      for (let i = 0; i < n; i++) rigs.push(await this.create());
      return await fn(...rigs);
    } finally {
      await Promise.all(rigs.map((r) => r.dispose()));
    }
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** Where an applied event leaves its row: keyed by its own id (events absent here change their agent's row). */
const ROW_OF: Partial<Record<EventType, [table: string, key: string]>> = {
  decision_made: ['decisions', 'event_id'],
  trade_executed: ['trades', 'event_id'],
  position_closed: ['position_closes', 'event_id'],
  checkpoint_saved: ['checkpoints', 'event_id'],
  memory_stored: ['memory_versions', 'event_id'],
  memory_updated: ['memory_versions', 'event_id'],
  memory_forgotten: ['memory_versions', 'event_id'],
  memory_recalled: ['recalls', 'recall_id'],
  // A move leaves its lifecycle_moves row; a hold its claim (a lift deletes hold rows).
  records_moved: ['lifecycle_moves', 'event_id'],
  legal_hold_changed: ['projection_events', 'event_id'],
  agent_restored: ['agent_restores', 'event_id'],
  memory_erased: ['erasures', 'event_id'],
  memories_consolidated: ['memory_versions', 'event_id'],
};

/** A dead letter as the projection recorded it (its stream position included). */
export interface DeadLetterRow {
  stream_seq: number;
  event_id: string | null;
  agent_id: string;
  event_type: string;
  code: string;
  reason: string;
  sqlstate: string | null;
}

/** One tiering projection of its own: a fresh schema and Redis key prefix, dropped by `dispose`. */
export class Rig {
  /** What the handlers of this rig counted, across restarts. */
  readonly stats: TieringStats = newTieringStats();

  private constructor(
    readonly ns: string,
    readonly pool: Pool,
    readonly redis: Redis,
    readonly hot: HotView,
    private readonly options: RigOptions,
    private readonly log: Logger,
  ) {}

  static async create(redis: Redis, options: RigOptions, log: Logger): Promise<Rig> {
    const ns = `${options.prefix}_${randomBytes(5).toString('hex')}`;
    const pool = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, ns, { max: 3 });
    await migrate(pool, ns, MIGRATIONS_DIR);
    return new Rig(ns, pool, redis, new HotView(redis, `${ns}:`, options.keep), options, log);
  }

  /**
   * A fresh handler of the partition: what tiering has after a (re)start (a
   * session of the projection, opened at its first batch, with no lease: epoch 0).
   */
  handler({ embedder = hashEmbedder(8), stats = this.stats, lifecycle }: { embedder?: Embedder; stats?: TieringStats; lifecycle?: LifecycleOptions } = {}): (msgs: readonly CanonicalMsg[]) => Promise<void> {
    // One partition holds every agent here: the rig publishes every agent's events on `options.partition`.
    const { partition } = this.options;
    const projection = tieringProjection({ pool: this.pool, hot: this.hot, log: this.log, name: 'tiering.v1', embedder, partitions: partition + 1, stats, ...(lifecycle ? { lifecycle } : {}) });
    let session: Promise<PartitionSession> | undefined;
    return async (msgs) => {
      session ??= projectionSession(projection, { pool: this.pool, log: this.log, stats }, partition, 0);
      try {
        await (await session).handle(msgs as unknown as JsMsg[]);
      } catch (err) {
        // A session that could not open is opened again at the next batch (as a restarted tiering would).
        if (!(await session.then(() => true, () => false))) session = undefined;
        throw err;
      }
    };
  }

  /** Everything the projection wrote, without ids, stream positions and timestamps. */
  async snapshot() {
    const [warm, dead, rejected, hot] = await Promise.all([
      warmDigest(this.pool),
      this.pool.query(`SELECT projection, partition, event_id::text, agent_id, event_type, code, reason, sqlstate, encode(event, 'hex') AS event
                         FROM projection_dead_letters ORDER BY event_id, code, reason, event`),
      this.pool.query('SELECT partition, ingress_seq, agent_id, rejected, accepted, code, reason FROM rejected_writes ORDER BY partition, ingress_seq'),
      redisDigest(this.redis, `${this.ns}:`),
    ]);
    return { warm, deadLetters: dead.rows, rejectedWrites: rejected.rows, hot };
  }

  /**
   * The hot copy of each agent equals the view Postgres gives (agents with
   * nothing applied are skipped; so are ids with NUL, which Postgres text cannot
   * hold nor take as a query parameter). `when` starts each failure message;
   * `asServed` compares the views as JSON, the form the gateway serves either
   * one in, for values that only JSON makes equal.
   */
  async assertHotIsPostgres(agentIds: Iterable<string>, { when, asServed = false }: { when?: string; asServed?: boolean } = {}): Promise<void> {
    const ids = [...new Set(agentIds)].filter((a) => !a.includes('\u0000'));
    const keep = this.options.keep;
    const warm = await readAgentViews(this.pool, ids, keep).catch((err: Error) => assert.fail(`reading ${JSON.stringify(ids).slice(0, 200)} from Postgres: ${err.message}`));
    for (const a of ids) {
      const w = warm.get(a);
      if (!w) continue; // nothing of this agent was applied
      const message = `${when ? `${when}: ` : ''}the hot copy of ${JSON.stringify(a).slice(0, 80)} is not the view Postgres gives`;
      assert.deepEqual(await this.hot.read(a, keep), asServed ? JSON.parse(JSON.stringify(w)) : w, message);
    }
  }

  /** Every dead letter, in the order recorded. */
  async deadLetters(): Promise<DeadLetterRow[]> {
    const r = await this.pool.query<DeadLetterRow>('SELECT stream_seq, event_id::text, agent_id, event_type, code, reason, sqlstate FROM projection_dead_letters ORDER BY id');
    return r.rows;
  }

  /** How each event ended, by lower-case event id: its dead letter's code, 'applied' (its row is there), or 'missing' (neither). */
  async fates(events: readonly FarmEvent[]): Promise<Map<string, string>> {
    const ids = events.map((e) => e.eventId.toLowerCase());
    const dead = new Map((await this.pool.query<{ id: string; code: string }>('SELECT event_id::text AS id, code FROM projection_dead_letters WHERE event_id = ANY($1::uuid[])', [ids])).rows.map((r) => [r.id, r.code]));
    const out = new Map<string, string>();
    for (const e of events) {
      const id = e.eventId.toLowerCase();
      // A type tiering does not apply (alerts: the analytics service's) passes by: no row, no dead letter, by design.
      if (!TIERING_TYPES.has(e.type)) out.set(id, dead.get(id) ?? 'not-handled');
      else out.set(id, dead.get(id) ?? ((await this.hasRow(e)) ? 'applied' : 'missing'));
    }
    return out;
  }

  /** The row an applied event left: keyed by its id, or (registrations, state changes) its agent's row. */
  async hasRow(e: FarmEvent): Promise<boolean> {
    const at = ROW_OF[e.type];
    if (!at) {
      if (e.agentId.includes('\u0000')) return false;
      const r = await this.pool.query('SELECT 1 FROM agents WHERE agent_id = $1', [e.agentId]);
      return r.rowCount === 1;
    }
    const r = await this.pool.query(`SELECT 1 FROM ${at[0]} WHERE ${at[1]} = $1::uuid`, [e.eventId]);
    return r.rowCount === 1;
  }

  /** Drops the schema, closes the pool and deletes the Redis keys under the prefix (the shared connection stays open). */
  async dispose(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(this.ns)} CASCADE`).catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.ns}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await this.redis.del(...keys);
    } while (cursor !== '0');
  }
}
