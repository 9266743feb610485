import { failureKind, sqlstateOf, type PoolClient } from '@farmbrain/platform';

/** Why one event could not be applied. */
export interface ApplyFailure<E> {
  event: E;
  error: Error;
  sqlstate: string | undefined;
}

/**
 * A batch failed deterministically somewhere: its transaction is aborted, and
 * the caller runs it again with `applyOneByOne` to find the events at fault.
 */
export class BatchPoisonedError extends Error {
  constructor(readonly failure: unknown) {
    super(`batch failed deterministically: ${(failure as Error)?.message ?? String(failure)}`, { cause: failure });
    this.name = 'BatchPoisonedError';
  }
}

/**
 * Applies a batch in one go, the fast path: no savepoint, one statement per
 * kind of row. A deterministic failure (the data cannot be applied: a
 * constraint, encoding or type error, a value out of range) is rethrown as
 * BatchPoisonedError, so the caller rolls back and retries the batch with
 * `applyOneByOne`; a transient one (a lost connection, a deadlock) is rethrown
 * as is, and the batch is retried in place.
 */
export async function applyAll<E, R>(events: readonly E[], apply: (events: readonly E[]) => Promise<R[]>): Promise<R[]> {
  if (events.length === 0) return [];
  try {
    return await apply(events);
  } catch (err) {
    if (failureKind(err) === 'deterministic') throw new BatchPoisonedError(err);
    throw err;
  }
}

/**
 * Applies events one by one, in order, each under its own savepoint, and
 * returns those that fail deterministically, so the caller dead-letters them
 * and the rest of the batch still applies (poison isolation). A transient
 * failure is rethrown: the whole batch is retried in place.
 *
 * `apply` must only write through `c` (everything it does is rolled back with the savepoint).
 */
export async function applyOneByOne<E, R>(
  c: PoolClient,
  events: readonly E[],
  apply: (events: readonly E[]) => Promise<R[]>,
): Promise<{ results: R[]; failed: ApplyFailure<E>[] }> {
  const results: R[] = [];
  const failed: ApplyFailure<E>[] = [];
  for (const e of events) {
    await c.query('SAVEPOINT fb_event');
    try {
      results.push(...(await apply([e])));
      await c.query('RELEASE SAVEPOINT fb_event');
    } catch (err) {
      if (failureKind(err) === 'transient') throw err;
      await c.query('ROLLBACK TO SAVEPOINT fb_event');
      failed.push({ event: e, error: err as Error, sqlstate: sqlstateOf(err) });
    }
  }
  return { results, failed };
}
