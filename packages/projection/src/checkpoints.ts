import { decodeConsistencyToken, FarmbrainError } from '@farmbrain/contracts';
import type { Pool, PoolClient } from '@farmbrain/platform';

/** Anything that runs a query: a pool or a client in a transaction. */
type Queryable = Pick<Pool, 'query'> | Pick<PoolClient, 'query'>;

/** Where a projection's partition stands: kept in `projection_checkpoints`, moved in each batch's transaction. */
export interface Checkpoint {
  partition: number;
  /** The last canonical stream sequence applied. */
  lastSeq: number;
  /** The highest ingress sequence the applied messages cover (what read-your-writes tokens wait for). */
  ingressSeq: number;
  /** The fencing token of the lease its writer holds. */
  epoch: number;
  updatedAt: Date;
}

/**
 * A batch (or a takeover) refused because a newer lease owns the partition:
 * this instance was paused or cut off past its lease. Nothing was committed.
 */
export class FencedError extends FarmbrainError {
  constructor(projection: string, partition: number, mine: number, current: number) {
    super('FENCED', `partition ${partition} of ${projection} is owned by a newer lease (epoch ${current} > ${mine}); this instance stops applying it`);
    this.name = 'FencedError';
  }
}

/** Every partition's checkpoint of a projection (the runner at start, the gateway's consistency tokens, `farmbrain status`). */
export async function readCheckpoints(db: Queryable, projection: string): Promise<Map<number, Checkpoint>> {
  const r = await db.query<{ partition: number; last_seq: string | number; ingress_seq: string | number; epoch: string | number; updated_at: Date }>(
    'SELECT partition, last_seq, ingress_seq, epoch, updated_at FROM projection_checkpoints WHERE projection = $1',
    [projection],
  );
  return new Map(r.rows.map((row) => [row.partition, {
    partition: row.partition, lastSeq: Number(row.last_seq), ingressSeq: Number(row.ingress_seq), epoch: Number(row.epoch), updatedAt: row.updated_at,
  }]));
}

/**
 * Takes a partition over under `epoch`: raises the checkpoint row's epoch to it
 * (waiting for a batch of the previous owner still in its transaction to
 * finish) and returns where applying resumes. Throws FencedError when a newer
 * epoch already holds the row. Epoch 0 is "no lease" (a single instance, a test rig).
 */
export async function claimPartition(db: Queryable, projection: string, partition: number, epoch: number): Promise<number> {
  const r = await db.query<{ last_seq: string | number; epoch: string | number }>(
    `INSERT INTO projection_checkpoints (projection, partition, last_seq, epoch) VALUES ($1, $2, 0, $3)
     ON CONFLICT (projection, partition) DO UPDATE SET epoch = EXCLUDED.epoch
       WHERE projection_checkpoints.epoch <= EXCLUDED.epoch
     RETURNING last_seq, epoch`,
    [projection, partition, epoch],
  );
  if (r.rows.length === 0) {
    const now = (await readCheckpoints(db, projection)).get(partition);
    throw new FencedError(projection, partition, epoch, now?.epoch ?? Number.NaN);
  }
  return Number(r.rows[0]!.last_seq);
}

/**
 * Locks the partition's checkpoint for this batch's transaction and returns it;
 * FencedError when a newer owner took the partition over (the transaction is
 * then rolled back: nothing of the batch commits).
 */
export async function lockCheckpoint(c: PoolClient, projection: string, partition: number, epoch: number): Promise<number> {
  const r = await c.query<{ last_seq: string | number; epoch: string | number }>(
    'SELECT last_seq, epoch FROM projection_checkpoints WHERE projection = $1 AND partition = $2 FOR UPDATE',
    [projection, partition],
  );
  const row = r.rows[0];
  if (row && Number(row.epoch) > epoch) throw new FencedError(projection, partition, epoch, Number(row.epoch));
  return row ? Number(row.last_seq) : 0;
}

/** Moves the checkpoint (in the batch's transaction, after lockCheckpoint): the last canonical sequence applied and the highest ingress sequence covered. */
export async function saveCheckpoint(c: PoolClient, projection: string, partition: number, lastSeq: number, ingressSeq = 0): Promise<void> {
  await c.query(
    `INSERT INTO projection_checkpoints (projection, partition, last_seq, ingress_seq) VALUES ($1, $2, $3, $4)
     ON CONFLICT (projection, partition) DO UPDATE SET last_seq = EXCLUDED.last_seq,
       ingress_seq = GREATEST(projection_checkpoints.ingress_seq, EXCLUDED.ingress_seq), updated_at = now()
     WHERE projection_checkpoints.last_seq < EXCLUDED.last_seq`,
    [projection, partition, lastSeq, ingressSeq],
  );
}

/** A projection did not apply the writes a consistency token names within the bound. */
export class NotAppliedError extends FarmbrainError {
  constructor(readonly projection: string, readonly pending: [number, number][], timeoutMs: number, what: string) {
    super('CONSISTENCY_TIMEOUT',
      `${projection} has not applied ${what} within ${timeoutMs} ms (partition ${pending[0]?.[0]} is before ingress sequence ${pending[0]?.[1]}): ` +
      'is tiering running (farmbrain status shows its lag)? What is on the log will be applied; run again later to see it done');
    this.name = 'NotAppliedError';
  }
}

/**
 * Resolves once `projection` has applied every ingress message a consistency
 * token names (its checkpoints' ingress_seq, which also passes writes ingest
 * rejected); rejects with NotAppliedError (CONSISTENCY_TIMEOUT) after `timeoutMs`.
 */
export async function waitApplied(pool: Pool, o: { projection: string; partitions: number; token: string | undefined; timeoutMs: number; pollMs?: number; what?: string }): Promise<void> {
  if (!o.token) return;
  const marks = decodeConsistencyToken(o.token, o.partitions);
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const r = await pool.query<{ partition: number; ingress_seq: string }>('SELECT partition, ingress_seq FROM projection_checkpoints WHERE projection = $1', [o.projection]);
    const at = new Map(r.rows.map((x) => [x.partition, Number(x.ingress_seq)]));
    const pending = [...marks].filter(([p, s]) => (at.get(p) ?? 0) < s);
    if (pending.length === 0) return;
    if (Date.now() >= deadline) throw new NotAppliedError(o.projection, pending, o.timeoutMs, o.what ?? 'the writes');
    await new Promise((res) => setTimeout(res, o.pollMs ?? 50));
  }
}
