import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsMsg } from '@nats-io/jetstream';
import { COMMON_DEFAULTS, connectPostgres, createLogger, inTransaction, migrate, type Pool } from '@farmbrain/platform';
import { MIGRATIONS_DIR } from '@farmbrain/store';
import { canonicalMessages, makeEvent, uniqueNamespace } from '@farmbrain/testing';
import { claimPartition, FencedError, lockCheckpoint, readCheckpoints, saveCheckpoint } from './checkpoints.js';
import { projectionSession, type Projection } from './projection.js';

// Fencing by lease epoch, on the real Postgres: the checkpoint row carries the epoch of its writer.
const ns = uniqueNamespace('fence');
let pool: Pool;
const log = createLogger('fencing-test', 'silent');

before(async () => {
  pool = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, ns, { max: 4 });
  await migrate(pool, ns, MIGRATIONS_DIR);
  await pool.query('CREATE TABLE toy (event_id uuid PRIMARY KEY, agent_id text NOT NULL, stream_seq bigint NOT NULL)');
});
after(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${ns} CASCADE`);
  await pool.end();
});

test('fencing - a checkpoint write under an older epoch is refused, and a takeover waits for the batch in flight', async () => {
  assert.equal(await claimPartition(pool, 'p.v1', 0, 5), 0);
  await inTransaction(pool, async (c) => {
    assert.equal(await lockCheckpoint(c, 'p.v1', 0, 5), 0);
    await saveCheckpoint(c, 'p.v1', 0, 10, 3);
  });
  // A batch of epoch 5 is in its transaction (holding the row) when epoch 7 takes over: the takeover waits
  // for it, then resumes after what it committed.
  let release!: () => void;
  const holding = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const inFlight = inTransaction(pool, async (c) => {
    await lockCheckpoint(c, 'p.v1', 0, 5);
    locked();
    await holding;
    await saveCheckpoint(c, 'p.v1', 0, 20, 4);
  });
  await isLocked;
  let claimed: number | undefined;
  const takeover = claimPartition(pool, 'p.v1', 0, 7).then((seq) => (claimed = seq));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(claimed, undefined, 'the takeover waits for the batch holding the checkpoint');
  release();
  await inFlight;
  assert.equal(await takeover, 20, 'and resumes after what that batch committed');
  // From now on, epoch 5 commits nothing.
  await assert.rejects(inTransaction(pool, async (c) => {
    await lockCheckpoint(c, 'p.v1', 0, 5);
    await saveCheckpoint(c, 'p.v1', 0, 30, 5);
  }), (err: unknown) => err instanceof FencedError && err.code === 'FENCED');
  const cp = (await readCheckpoints(pool, 'p.v1')).get(0)!;
  assert.deepEqual([cp.lastSeq, cp.ingressSeq, cp.epoch], [20, 4, 7]);
  // An older owner cannot take it back either.
  await assert.rejects(claimPartition(pool, 'p.v1', 0, 6), FencedError);
  // Other partitions and projections are independent.
  assert.equal(await claimPartition(pool, 'p.v1', 1, 1), 0);
  assert.equal(await claimPartition(pool, 'p.v2', 0, 1), 0);
});

test('fencing - a stale session (its partition taken over by a newer epoch) commits nothing of its batch', async () => {
  const toy: Projection = {
    name: 'toy.v1',
    keyedByRow: new Set(['decision_made']),
    async apply(tx, events) {
      for (const e of events) await tx.query('INSERT INTO toy VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [e.eventId, e.agentId, e.streamSeq]);
    },
  };
  const ev = (i: number) => makeEvent('a1', 'decision_made', { action: 'hold', symbol: 'BTC', confidence: 0.5, rationale: `r${i}` }, { producerSeq: i });
  const [b1, b2] = canonicalMessages(ns, 0, [[{ agentId: 'a1', events: [ev(1), ev(2)] }], [{ agentId: 'a1', events: [ev(3)] }]]);
  const stale = await projectionSession(toy, { pool, log }, 0, 1);
  await stale.handle(b1 as unknown as JsMsg[]);
  const fresh = await projectionSession(toy, { pool, log }, 0, 2);
  assert.equal(fresh.startAfter, 1, 'the new owner resumes after what the old one committed');
  await assert.rejects(stale.handle(b2 as unknown as JsMsg[]), FencedError);
  const rows = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM toy')).rows[0]!.n;
  assert.equal(rows, 2, 'the stale batch left no row');
  assert.equal((await readCheckpoints(pool, 'toy.v1')).get(0)!.lastSeq, 1, 'nor moved the checkpoint');
  await fresh.handle(b2 as unknown as JsMsg[]);
  assert.equal((await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM toy')).rows[0]!.n, 3);
});
